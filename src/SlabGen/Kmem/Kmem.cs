// General-purpose allocation (include/linux/slab.h, mm/slab_common.c): kmalloc and friends over the size
// caches, and large requests straight from the page allocator. Kfree finds what it frees from the memory
// alone, through the page frame.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>
/// The kernel's general-purpose allocation calls: <c>kmalloc</c> and its family over the kmalloc-8 … kmalloc-8k
/// caches and the page allocator, and <c>vmalloc</c> for large, page-granular memory straight from the OS.
/// </summary>
/// <remarks>
/// All memory comes from <see cref="PageAllocator.Shared"/> (kmalloc) or the OS (vmalloc). The allocating calls
/// return <see langword="null"/> when memory is exhausted; misuse throws and changes nothing.
/// </remarks>
public static unsafe partial class Kmem
{
    /// <summary>The largest kmalloc: one max-order block, 4 MiB.</summary>
    public const nuint MaxKmallocSize = (nuint)PageAllocator.PageSize << PageAllocator.MaxOrder;

    /// <summary>
    /// Allocates <paramref name="size"/> bytes (<c>kmalloc</c>): up to 8 KiB from the smallest size cache that holds
    /// it, above that a block of 2^order pages, up to 4 MiB. A size of 0 is served as 1 byte.
    /// </summary>
    /// <param name="size">How many bytes.</param>
    /// <param name="flags">
    /// <see cref="GfpFlags.Kernel"/> (the default) may take memory from the OS, and so may sleep; <see cref="GfpFlags.Atomic"/>
    /// never sleeps and fails fast. Add <see cref="GfpFlags.Zero"/> to zero the memory and <see cref="GfpFlags.NoWarn"/> to
    /// keep an expected failure out of <see cref="PageAllocator.FailedAllocations"/>.
    /// </param>
    /// <returns>The memory, aligned to 8 bytes at least (to the size class for power-of-two classes up to 4 KiB,
    /// to the block size above 8 KiB); <see langword="null"/> when none is available or above 4 MiB.</returns>
    /// <exception cref="ArgumentException"><paramref name="flags"/> has both <see cref="GfpFlags.Kernel"/> and <see cref="GfpFlags.Atomic"/>.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep (without <see cref="GfpFlags.Atomic"/>) in interrupt context (<see cref="InterruptContext"/>).</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* Kmalloc(nuint size, GfpFlags flags = GfpFlags.Kernel) =>
        // The thread's table is read before the size test, so the read dominates the rest of an inlining caller:
        // a Kfree later in the same method reuses its thread-local address instead of looking it up again.
        KmallocFrom(KmallocCaches.ThreadBlocks, size, flags);

    /// <summary>Kmalloc through <paramref name="blocks"/>, the calling thread's table (null: the slow path finds or makes it).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void* KmallocFrom(nint* blocks, nuint size, GfpFlags flags)
    {
        if (size > KmallocCaches.MaxCacheSize)
        {
            return KmallocLarge(size, flags);
        }

        int kmallocClass = KmallocCaches.ClassOf(size);
        if (blocks != null)
        {
            var block = (nint*)blocks[kmallocClass];
            void* obj = block == null ? null : ArrayCache.TryPop(block, flags);
            if (obj != null)
            {
                return obj;
            }
        }

        return KmallocCaches.AllocSlow(kmallocClass, size, flags);
    }

    /// <summary>Allocates zeroed memory (<c>kzalloc</c>): <see cref="Kmalloc"/> with <see cref="GfpFlags.Zero"/>.</summary>
    /// <param name="size">How many bytes.</param>
    /// <param name="flags">
    /// <see cref="GfpFlags.Kernel"/> (the default) may take memory from the OS, and so may sleep; <see cref="GfpFlags.Atomic"/>
    /// never sleeps and fails fast. Add <see cref="GfpFlags.Zero"/> to zero the memory and <see cref="GfpFlags.NoWarn"/> to
    /// keep an expected failure out of <see cref="PageAllocator.FailedAllocations"/>.
    /// </param>
    /// <returns>The zeroed memory, or <see langword="null"/> as <see cref="Kmalloc"/> returns it.</returns>
    /// <exception cref="ArgumentException"><paramref name="flags"/> has both <see cref="GfpFlags.Kernel"/> and <see cref="GfpFlags.Atomic"/>.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep (without <see cref="GfpFlags.Atomic"/>) in interrupt context (<see cref="InterruptContext"/>).</exception>
    public static void* Kzalloc(nuint size, GfpFlags flags = GfpFlags.Kernel) => Kmalloc(size, flags | GfpFlags.Zero);

    /// <summary>Allocates a zeroed array of <paramref name="count"/> elements of <paramref name="size"/> bytes (<c>kcalloc</c>).</summary>
    /// <param name="count">How many elements.</param>
    /// <param name="size">The bytes of one element.</param>
    /// <param name="flags">
    /// <see cref="GfpFlags.Kernel"/> (the default) may take memory from the OS, and so may sleep; <see cref="GfpFlags.Atomic"/>
    /// never sleeps and fails fast. Add <see cref="GfpFlags.Zero"/> to zero the memory and <see cref="GfpFlags.NoWarn"/> to
    /// keep an expected failure out of <see cref="PageAllocator.FailedAllocations"/>.
    /// </param>
    /// <returns>The zeroed array, or <see langword="null"/> as <see cref="Kmalloc"/> returns it.</returns>
    /// <exception cref="ArgumentOutOfRangeException">count × size overflows.</exception>
    /// <exception cref="ArgumentException"><paramref name="flags"/> has both <see cref="GfpFlags.Kernel"/> and <see cref="GfpFlags.Atomic"/>.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep (without <see cref="GfpFlags.Atomic"/>) in interrupt context (<see cref="InterruptContext"/>).</exception>
    public static void* Kcalloc(nuint count, nuint size, GfpFlags flags = GfpFlags.Kernel)
    {
        return Kzalloc(CallocSize(count, size), flags);
    }

    /// <summary>count × size for kcalloc, or an exception when it overflows.</summary>
    internal static nuint CallocSize(nuint count, nuint size) => size != 0 && count > nuint.MaxValue / size
        ? throw new ArgumentOutOfRangeException(nameof(count), count, $"kcalloc: size overflow: {count} × {size} bytes does not fit in nuint.")
        : count * size;

    /// <summary>
    /// Resizes an allocation (<c>krealloc</c>): keeps the contents up to the smaller of the two sizes. Returns
    /// <paramref name="memory"/> itself when it already holds <paramref name="size"/> bytes; otherwise allocates,
    /// copies and frees the old memory. <see langword="null"/> behaves as <see cref="Kmalloc"/>; a size of 0 frees
    /// and returns <see langword="null"/>. With <see cref="GfpFlags.Zero"/>, the added bytes are zeroed, and so are the bytes
    /// past the new size when it stays in place: pass Zero on every call from the first allocation (Kzalloc) on, as
    /// the kernel asks, and every byte past the size asked last reads zero.
    /// </summary>
    /// <param name="memory">The memory, as the kmalloc family returned it, or <see langword="null"/>.</param>
    /// <param name="size">The new size in bytes; 0 frees.</param>
    /// <param name="flags">
    /// <see cref="GfpFlags.Kernel"/> (the default) may take memory from the OS, and so may sleep; <see cref="GfpFlags.Atomic"/>
    /// never sleeps and fails fast. Add <see cref="GfpFlags.Zero"/> to zero the memory and <see cref="GfpFlags.NoWarn"/> to
    /// keep an expected failure out of <see cref="PageAllocator.FailedAllocations"/>.
    /// </param>
    /// <returns>The resized memory, or <see langword="null"/> on failure, in which case the old memory is untouched.</returns>
    /// <exception cref="ArgumentException"><paramref name="memory"/> is not a live kmalloc allocation, or the flags contradict each other.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep (without <see cref="GfpFlags.Atomic"/>) in interrupt context.</exception>
    public static void* Krealloc(void* memory, nuint size, GfpFlags flags = GfpFlags.Kernel) =>
        KmallocAllocator.Shared.Krealloc(memory, size, flags);

    /// <summary>Frees memory from the kmalloc family (<c>kfree</c>). <see langword="null"/> does nothing.</summary>
    /// <param name="memory">The memory, as the kmalloc family returned it.</param>
    /// <exception cref="ArgumentException">
    /// The memory is not from kmalloc: not in any SlabGen arena, inside an object or a block rather than at its start,
    /// or a page-allocator block; or it is already free (a double free; memory allocated again in between cannot be
    /// told apart). Nothing is changed.
    /// </exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Kfree(void* memory)
    {
        // Every page of a kmalloc slab carries its class, every other page (and the frame of no arena) 0, whose table
        // slot stays null.
        PageFrame* page = PageAllocator.FrameOf(memory);
        nint* block = KmallocCaches.ThreadBlock(SlabPage.Of(page)->KmallocClass);
        if (block != null && ArrayCache.TryFree(block, memory, page))
        {
            return;
        }

        KfreeSlow(memory);
    }

    /// <summary>Kfree through <paramref name="blocks"/>, the calling thread's table (null: the slow path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void KfreeTo(nint* blocks, void* memory)
    {
        // Kfree's fast path with the table given: written out, as there, so the JIT keeps the push's branches flat.
        PageFrame* page = PageAllocator.FrameOf(memory);
        if (blocks != null)
        {
            var block = (nint*)blocks[SlabPage.Of(page)->KmallocClass];
            if (block != null && ArrayCache.TryFree(block, memory, page))
            {
                return;
            }
        }

        KfreeSlow(memory);
    }

    /// <summary>
    /// The calling thread's handle on the kmalloc caches, for hot loops: its <see cref="KmallocThreadCache.Kmalloc"/>,
    /// <see cref="KmallocThreadCache.Kzalloc"/> and <see cref="KmallocThreadCache.Kfree"/> behave exactly as this class's,
    /// without the thread-local read each of those makes.
    /// </summary>
    public static KmallocThreadCache ThisThread
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => new(KmallocCaches.ThreadBlocksCreated);
    }

    /// <summary>Kfree of anything but a kmalloc slab object going onto a thread's block that has room.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void KfreeSlow(void* memory)
    {
        if (memory == null)
        {
            return;
        }

        if (Sampler.Holds(memory))
        {
            Sampler.Pool!.Free(null, memory, "kfree");
            return;
        }

        PageFrame* slab = PageAllocator.HeadFrameOf(memory);
        if (slab != null && SlabPage.IsSlab(slab))
        {
            KmallocCaches.FreeSlow(memory, slab);
            return;
        }

        // A large block goes back to the allocator it came from: Shared's, or a KmallocAllocator's own.
        LargeKmalloc.Free(HeadOf(memory, "kfree"), memory);
    }

    /// <summary>
    /// The usable bytes of a kmalloc allocation of any allocator as a span: <see cref="Ksize"/> of them. Valid until the
    /// memory is freed; do not keep it past <see cref="Kfree"/>.
    /// </summary>
    /// <param name="memory">The memory, as the kmalloc family returned it.</param>
    /// <returns>The memory's usable bytes.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException">The memory is not from kmalloc.</exception>
    public static Span<byte> AsSpan(void* memory) => new(memory, checked((int)Ksize(memory)));

    /// <summary>
    /// The usable size of a kmalloc allocation (<c>ksize</c>): its size class, or its block size above 8 KiB. With
    /// kmalloc debugging on (<see cref="SlabDebug"/>), the size asked for, since the rest of the object is red zone.
    /// </summary>
    /// <param name="memory">The memory, as the kmalloc family returned it.</param>
    /// <returns>The bytes the caller may use.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException">The memory is not a live kmalloc allocation: not from kmalloc, inside an object or a block rather than at its start, or already freed.</exception>
    public static nuint Ksize(void* memory)
    {
        ArgumentNullException.ThrowIfNull(memory);
        if (Sampler.Holds(memory))
        {
            return Sampler.Pool!.UsableSize(memory, "ksize");
        }

        PageFrame* head = HeadOf(memory, "ksize");
        if (!SlabPage.IsSlab(head))
        {
            return LargeKmalloc.UsableSize(head);
        }

        KmemCache cache = CacheRegistry.Find(SlabPage.Of(head)->CacheId)!;
        if (cache.LiveObjectProblem((byte*)memory, head) is string problem)
        {
            throw new ArgumentException($"ksize(0x{(nuint)memory:x}): {problem}.", nameof(memory));
        }

        return cache.UsableSize(memory);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* KmallocLarge(nuint size, GfpFlags flags) =>
        LargeKmalloc.Alloc(PageAllocator.Shared, size, flags, KmallocAllocator.Shared.LargeDebug, KmallocAllocator.Shared.LargeName);

    /// <summary>The head frame of a kmalloc allocation that starts at <paramref name="memory"/>, or an exception naming what it is.</summary>
    private static PageFrame* HeadOf(void* memory, string operation)
    {
        PageFrame* head = PageAllocator.HeadFrameOf(memory);
        string? problem = head == null ? "foreign pointer: it is not in any SlabGen arena"
            : SlabPage.IsSlab(head) ? null
            : LargeKmalloc.Problem(head, memory);
        if (problem is not null)
        {
            LargeKmalloc.Throw(operation, memory, problem);
        }

        return head;
    }
}
