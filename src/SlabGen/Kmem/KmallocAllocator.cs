// kmalloc over a page allocator of your choosing. The kernel has one set of kmalloc caches; a .NET process may want
// several, each within a budget: a game's per-level scratch, a server's request buffers, a test under a cap. An
// instance has its own kmalloc-8 … kmalloc-8k caches (named "{name}-kmalloc-64" in slabinfo) and takes its large
// blocks from the same PageAllocator, so that allocator's MaxBytes bounds everything it hands out.
//
// Kmem's static calls are KmallocAllocator.Shared's, over PageAllocator.Shared, with the per-thread class table as
// their fast path. Another instance allocates through its caches' own fast path (one slot-table lookup). Kfree, Ksize
// and Krealloc find everything from the memory alone (the page frame names the cache, the arena the page allocator),
// so memory from any instance is freed with Kmem.Kfree, on any thread.
namespace SlabGen;

/// <summary>
/// A kmalloc allocator over one <see cref="PageAllocator"/>: its own size caches and large blocks, all from that
/// allocator, so its cap (<see cref="PageAllocatorOptions.MaxBytes"/>) is a budget for everything this instance
/// allocates. <see cref="Kmem"/>'s static calls are <see cref="Shared"/>'s.
/// </summary>
/// <remarks>
/// Thread-safe. Memory from any instance is freed by <see cref="Kmem.Kfree"/> (and sized by <see cref="Kmem.Ksize"/>),
/// on any thread: the memory itself says where it came from. Dispose destroys the instance's caches once they are empty; memory still
/// allocated from it stays valid and keeps its caches alive (the leak is reported, as a cache's Dispose reports it).
/// </remarks>
[System.Diagnostics.DebuggerDisplay("{ToString(),nq}")]
public sealed unsafe class KmallocAllocator : IDisposable
{
    /// <summary>The caches by class (class c is [c - 1]); null for <see cref="Shared"/>, which uses the static set.</summary>
    private readonly KmemCache[]? _caches;

    private int _disposed;

    private KmallocAllocator(PageAllocator pages, string name, KmemCache[]? caches)
    {
        Pages = pages;
        Name = name;
        _caches = caches;
        LargeName = LargeKmalloc.DebugName;
        LargeDebug = LargeKmalloc.DebugBits(SlabDebug.FlagsFor(LargeName));
    }

    /// <summary>
    /// Creates a kmalloc allocator whose caches and large blocks come from <paramref name="pages"/>.
    /// </summary>
    /// <param name="pages">Where every byte comes from; its <see cref="PageAllocator.MaxBytes"/> is this allocator's budget.</param>
    /// <param name="name">Prefixes the caches' names in slabinfo (<c>{name}-kmalloc-64</c>) and in metrics.</param>
    /// <exception cref="ArgumentNullException"><paramref name="pages"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="name"/> is null or empty.</exception>
    public KmallocAllocator(PageAllocator pages, string name)
    {
        ArgumentNullException.ThrowIfNull(pages);
        ArgumentException.ThrowIfNullOrEmpty(name);
        Pages = pages;
        Name = name;
        _caches = KmallocCaches.CreateSet(pages, name + "-", shared: false);
        LargeName = name + "-" + LargeKmalloc.DebugName;
        LargeDebug = LargeKmalloc.DebugBits(SlabDebug.FlagsFor(LargeName));
    }

    /// <summary>The debug modes of this allocator's blocks above 8 KiB (LargeKmalloc.cs), from SLABGEN_SLAB_DEBUG's rule for "kmalloc-large" ("{Name}-kmalloc-large").</summary>
    internal byte LargeDebug { get; }

    /// <summary>The name of this allocator's blocks above 8 KiB: kmalloc-large, or {Name}-kmalloc-large.</summary>
    internal string LargeName { get; }

    /// <summary>The allocator behind <see cref="Kmem"/>'s static calls, over <see cref="PageAllocator.Shared"/>; it lives as long as the process.</summary>
    public static KmallocAllocator Shared { get; } = new(PageAllocator.Shared, "kmalloc", null);

    /// <summary>The page allocator every byte of this instance comes from.</summary>
    public PageAllocator Pages { get; }

    /// <summary>The name its caches carry (<c>{Name}-kmalloc-64</c>; the shared caches are plain <c>kmalloc-64</c>).</summary>
    public string Name { get; }

    /// <summary>Allocates <paramref name="size"/> bytes from this allocator, as <see cref="Kmem.Kmalloc"/> does from the shared one.</summary>
    /// <param name="size">How many bytes; 0 is served as 1.</param>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> may take memory from the OS; <see cref="GfpFlags.Atomic"/> never does; <see cref="GfpFlags.Zero"/> zeroes it.</param>
    /// <returns>The memory, aligned as <see cref="Kmem.Kmalloc"/> aligns it; <see langword="null"/> when this allocator's pages are exhausted (its cap) or above 4 MiB.</returns>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    /// <exception cref="ArgumentException"><paramref name="flags"/> has both Kernel and Atomic.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context.</exception>
    public void* Kmalloc(nuint size, GfpFlags flags = GfpFlags.Kernel)
    {
        if (_caches is null)
        {
            return Kmem.Kmalloc(size, flags);
        }

        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (size > KmallocCaches.MaxCacheSize)
        {
            return LargeKmalloc.Alloc(Pages, size, flags, LargeDebug, LargeName);
        }

        return _caches[KmallocCaches.ClassOf(size) - 1].AllocSized(flags, (int)Math.Max(size, 1));
    }

    /// <summary>
    /// Frees <paramref name="memory"/> of this allocator whose usable size (<see cref="Kmem.Ksize"/>) is
    /// <paramref name="size"/>: straight to its size cache, where <see cref="Kmem.Kfree"/> finds an instance's cache
    /// by a lookup (its fast path knows the shared caches only). SlabMemoryPool's return.
    /// </summary>
    internal void Kfree(void* memory, int size)
    {
        if (_caches is null || size > KmallocCaches.MaxCacheSize)
        {
            Kmem.Kfree(memory);
            return;
        }

        _caches[KmallocCaches.ClassOf((nuint)size) - 1].Free(memory);
    }

    /// <summary>Allocates zeroed memory: <see cref="Kmalloc"/> with <see cref="GfpFlags.Zero"/>.</summary>
    /// <inheritdoc cref="Kmalloc"/>
    public void* Kzalloc(nuint size, GfpFlags flags = GfpFlags.Kernel) => Kmalloc(size, flags | GfpFlags.Zero);

    /// <summary>Allocates a zeroed array of <paramref name="count"/> elements of <paramref name="size"/> bytes.</summary>
    /// <param name="count">How many elements.</param>
    /// <param name="size">The bytes of one element.</param>
    /// <param name="flags">As for <see cref="Kmalloc"/>.</param>
    /// <returns>The zeroed array, or <see langword="null"/> as <see cref="Kmalloc"/> returns it.</returns>
    /// <exception cref="ArgumentOutOfRangeException">count × size overflows.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public void* Kcalloc(nuint count, nuint size, GfpFlags flags = GfpFlags.Kernel) => Kzalloc(Kmem.CallocSize(count, size), flags);

    /// <summary>
    /// Resizes an allocation as <see cref="Kmem.Krealloc"/> does; a grown copy comes from this allocator. The memory may
    /// come from any kmalloc allocator.
    /// </summary>
    /// <param name="memory">The memory, as a kmalloc call returned it, or <see langword="null"/>.</param>
    /// <param name="size">The new size in bytes; 0 frees.</param>
    /// <param name="flags">As for <see cref="Kmalloc"/>; with <see cref="GfpFlags.Zero"/> the added bytes are zeroed.</param>
    /// <returns>The resized memory, or <see langword="null"/> on failure, in which case the old memory is untouched.</returns>
    /// <exception cref="ArgumentException"><paramref name="memory"/> is not a live kmalloc allocation, or the flags contradict each other.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed and the memory must move.</exception>
    public void* Krealloc(void* memory, nuint size, GfpFlags flags = GfpFlags.Kernel)
    {
        if (memory == null)
        {
            return Kmalloc(size, flags);
        }

        if (size == 0)
        {
            Kmem.Kfree(memory);
            return null;
        }

        nuint old = Kmem.Ksize(memory);
        if (size <= old)
        {
            // In place. With Zero, the bytes past the new size are zeroed, so a later in-place grow with Zero hands out
            // zeroes there too (the kernel's rule: every krealloc of the memory, from the first, passes __GFP_ZERO).
            if ((flags & GfpFlags.Zero) != 0)
            {
                System.Runtime.InteropServices.NativeMemory.Clear((byte*)memory + size, old - size);
            }

            return memory;
        }

        void* grown = Kmalloc(size, flags & ~GfpFlags.Zero);
        if (grown == null)
        {
            return null;
        }

        Buffer.MemoryCopy(memory, grown, old, old);
        if ((flags & GfpFlags.Zero) != 0)
        {
            System.Runtime.InteropServices.NativeMemory.Clear((byte*)grown + old, Kmem.Ksize(grown) - old);
        }

        Kmem.Kfree(memory);
        return grown;
    }

    /// <summary>The size caches of this allocator, by class (for the benchmarks' memory accounting).</summary>
    internal IReadOnlyList<KmemCache> Caches => _caches ?? KmallocCaches.Caches;

    /// <summary>
    /// Destroys this allocator's empty caches; never throws. A cache that still has objects stays, usable by Kfree, and
    /// reports its leak once (<see cref="KmemCache.Dispose"/>); Dispose again once they are freed destroys it (every
    /// call destroys the caches empty by then). Further Kmalloc calls throw.
    /// </summary>
    /// <exception cref="InvalidOperationException">On <see cref="Shared"/>, which lives as long as the process.</exception>
    public void Dispose()
    {
        if (_caches is null)
        {
            throw new InvalidOperationException("KmallocAllocator.Shared lives as long as the process and cannot be disposed.");
        }

        Volatile.Write(ref _disposed, 1);
        foreach (KmemCache cache in _caches)
        {
            cache.Dispose(); // a destroyed cache does nothing; a leaking one reports once and stays
        }

        LargeKmalloc.FlushQuarantine(Pages, Name);
    }

    /// <inheritdoc/>
    /// <returns>The allocator's name and its page allocator's cap.</returns>
    public override string ToString() => $"kmalloc allocator {Name} (cap {(Pages.MaxBytes is long max ? $"{max} bytes" : "none")})";
}
