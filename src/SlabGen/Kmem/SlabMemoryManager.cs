// Memory<byte> over SlabGen memory, for the APIs that take Memory<T> (sockets, streams, pipelines): a MemoryManager
// over a block the caller holds (a kmalloc block, a page block, a vmalloc area, a slab object), one that owns a
// kmalloc block and frees it when disposed, or a SlabMemoryPool's buffer owner, which goes back to its pool (and is
// lent again) when disposed.
using System.Buffers;

namespace SlabGen;

/// <summary>
/// A <see cref="MemoryManager{T}"/> over native SlabGen memory: <c>Memory</c> gives a <see cref="Memory{T}"/> that
/// async APIs can hold across awaits. The memory never moves, so pinning costs nothing.
/// </summary>
/// <remarks>
/// The memory must stay allocated while any <see cref="Memory{T}"/> of the manager is in use; after
/// <see cref="IDisposable.Dispose"/>, <see cref="GetSpan"/> and <see cref="Pin"/> throw.
/// </remarks>
public sealed unsafe class SlabMemoryManager : MemoryManager<byte>
{
    private readonly bool _owned;

    /// <summary>The pool this manager is a buffer owner of, or null.</summary>
    private readonly SlabMemoryPool? _pool;

    /// <summary>The memory's address; 0 once disposed (for a pool's owner: while idle). Swapped out once by the first Dispose.</summary>
    private nint _memory;

    /// <summary>A view of <paramref name="length"/> bytes at <paramref name="memory"/>, which the caller frees after the manager's last use.</summary>
    /// <param name="memory">The block, for example from <see cref="Kmem.Kmalloc"/>, <see cref="PageAllocator.AllocPages"/> or <see cref="Kmem.Vmalloc"/>.</param>
    /// <param name="length">Its usable length in bytes.</param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public SlabMemoryManager(void* memory, int length)
        : this(memory, length, owned: false)
    {
    }

    private SlabMemoryManager(void* memory, int length, bool owned)
    {
        ArgumentNullException.ThrowIfNull(memory);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _memory = (nint)memory;
        Length = length;
        _owned = owned;
    }

    /// <summary>A buffer owner of <paramref name="pool"/>, idle until <see cref="Lend"/>.</summary>
    internal SlabMemoryManager(SlabMemoryPool pool) => _pool = pool;

    /// <summary>The length of the memory in bytes.</summary>
    public int Length { get; private set; }

    /// <summary>Makes a pool's idle owner the owner of a newly rented buffer.</summary>
    internal void Lend(byte* memory, int length)
    {
        Length = length;
        Volatile.Write(ref _memory, (nint)memory);
    }

    /// <summary>Allocates <paramref name="size"/> bytes with <paramref name="kmalloc"/> and manages them: Dispose frees them.</summary>
    /// <param name="size">The bytes wanted, 1 or more; the manager's length is the whole kmalloc class (<see cref="Kmem.Ksize"/>).</param>
    /// <param name="flags">The allocation's flags.</param>
    /// <param name="kmalloc">The allocator; <see langword="null"/> for <see cref="KmallocAllocator.Shared"/>.</param>
    /// <returns>The manager of the new block.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="size"/> is below 1.</exception>
    /// <exception cref="InsufficientMemoryException">No memory under <paramref name="flags"/>.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context.</exception>
    public static SlabMemoryManager Kmalloc(int size, GfpFlags flags = GfpFlags.Kernel, KmallocAllocator? kmalloc = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(size, 1);
        kmalloc ??= KmallocAllocator.Shared;
        void* memory = kmalloc.Kmalloc((nuint)size, flags);
        return memory == null
            ? throw new InsufficientMemoryException($"{kmalloc.Name} could not allocate {size:N0} bytes under GfpFlags.{flags}.")
            : new SlabMemoryManager(memory, (int)Kmem.Ksize(memory), owned: true);
    }

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The manager was disposed.</exception>
    public override Span<byte> GetSpan()
    {
        nint memory = Volatile.Read(ref _memory);
        ObjectDisposedException.ThrowIf(memory == 0, this);
        return new Span<byte>((void*)memory, Length);
    }

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The manager was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementIndex"/> is outside 0..Length.</exception>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        nint memory = Volatile.Read(ref _memory);
        ObjectDisposedException.ThrowIf(memory == 0, this);
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, Length);
        return new MemoryHandle((byte*)memory + elementIndex);
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <inheritdoc/>
    protected override bool TryGetArray(out ArraySegment<byte> segment)
    {
        nint memory = Volatile.Read(ref _memory);
        ObjectDisposedException.ThrowIf(memory == 0, this);
        segment = default;
        return _pool is not null && _pool.TryGetSegment((byte*)memory, Length, out segment);
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        nint memory = Interlocked.Exchange(ref _memory, 0);
        if (memory == 0)
        {
            return;
        }

        if (_pool is not null)
        {
            _pool.Return(this, (byte*)memory, Length);
        }
        else if (_owned)
        {
            Kmem.Kfree((void*)memory);
        }
    }
}
