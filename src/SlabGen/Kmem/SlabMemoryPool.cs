// A MemoryPool<byte> over kmalloc, for System.IO.Pipelines and Kestrel: a rent is one Kmalloc (a size class up to
// 8 KiB, a page block above it), a return one Kfree, so the buffers are SlabGen memory, bounded by the allocator's
// cap and shown by slabinfo and slabtop. Each rent hands out an owner (a MemoryManager<byte>, as Memory<byte> over native
// memory needs: SlabMemoryManager). By default every rent gets a new one, so a stale owner disposed a second time finds
// its own memory already gone and does nothing: it can never free another renter's buffer (ArrayPool's old complaint:
// a buffer returned twice is handed out twice). ReuseOwners keeps disposed owners for the next rents instead, so a pool
// in steady state allocates no managed memory, for callers that dispose each owner exactly once (Kestrel).
//
// A pinned pool (CreatePinned) keeps its pages in one array on the pinned object heap, under a PageAllocator over that
// array (PageAllocator.Borrowed.cs): its buffers are still slab memory, bounded by the array, and also array segments
// (MemoryMarshal.TryGetArray succeeds), which Kestrel's sockets transport needs for its multi-buffer sends
// (SocketAsyncEventArgs.BufferList takes array segments only).
using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>
/// A <see cref="MemoryPool{T}"/> of native buffers from a <see cref="KmallocAllocator"/>: pass it as
/// <c>PipeOptions.Pool</c>, <c>StreamPipeReaderOptions.Pool</c>, or to Kestrel through SlabGen.AspNetCore. Buffers are
/// 4 KiB by default, as Kestrel's blocks; a rent of a given size gets its kmalloc class (the whole class is usable).
/// </summary>
/// <remarks>
/// Thread-safe; a buffer may be returned (its owner disposed) on any thread. Disposing an owner again does nothing,
/// unless <see cref="ReuseOwners"/> is set. A buffer's memory is native and
/// never moves: <see cref="Memory{T}.Pin"/> costs nothing. Do not use a <see cref="Memory{T}"/> after disposing its
/// owner: as with every pool, the memory belongs to the next rent.
/// </remarks>
[System.Diagnostics.DebuggerDisplay("{ToString(),nq}")]
public sealed class SlabMemoryPool : MemoryPool<byte>
{
    /// <summary>The size of a buffer rented without a minimum: 4096, Kestrel's block size.</summary>
    public const int DefaultBufferSize = 4096;

    /// <summary>The largest buffer: one block of the page allocator's largest order, 4 MiB.</summary>
    public const int MaxSize = PageAllocator.PageSize << PageAllocator.MaxOrder;

    private readonly ConcurrentQueue<SlabMemoryManager> _idle = new();

    /// <summary>The pinned array a pinned pool's pages live in, or null; its first byte's address is <see cref="_arrayBase"/>.</summary>
    private readonly byte[]? _array;
    private readonly nint _arrayBase;

    /// <summary>A pinned pool's own page allocator, disposed once the pool is disposed and every buffer is back.</summary>
    private readonly PageAllocator? _ownPages;
    private long _rented;
    private long _rentedBytes;
    private int _disposed;

    /// <summary>Creates a pool over <see cref="KmallocAllocator.Shared"/>.</summary>
    public SlabMemoryPool()
        : this(null, null)
    {
    }

    /// <summary>Creates a pool over <paramref name="kmalloc"/>; its page allocator's cap bounds the pool.</summary>
    /// <param name="kmalloc">The allocator; <see langword="null"/> for <see cref="KmallocAllocator.Shared"/>.</param>
    /// <param name="owner">Who uses the pool (for example "kestrel"), the tag of its metrics; <see langword="null"/> for "slabgen".</param>
    public SlabMemoryPool(KmallocAllocator? kmalloc, string? owner)
    {
        Kmalloc = kmalloc ?? KmallocAllocator.Shared;
        Owner = string.IsNullOrEmpty(owner) ? "slabgen" : owner;
        SlabGenMetrics.EnsureCreated();
    }

    private unsafe SlabMemoryPool(byte[] array, PageAllocator pages, string? owner)
        : this(new KmallocAllocator(pages, string.IsNullOrEmpty(owner) ? "pool" : owner), owner)
    {
        _array = array;
        _arrayBase = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        _ownPages = pages;
    }

    /// <summary>
    /// Creates a pool whose buffers live in one array of about <paramref name="maxBytes"/> on the pinned object heap:
    /// slab memory that is also an array segment (<see cref="MemoryMarshal.TryGetArray{T}"/>), which Kestrel's sockets
    /// transport requires. The array is the pool's budget: a rent beyond it throws. Its own page and kmalloc
    /// allocators (named after <paramref name="owner"/> in slabinfo) go when the pool is disposed and its buffers are back.
    /// </summary>
    /// <param name="maxBytes">The budget, 8 MiB to 1 GiB; the array is this much plus the page frames, in whole 4 MiB sections, plus 4 MiB of alignment slack that is never touched.</param>
    /// <param name="owner">Who uses the pool, the tag of its metrics and the prefix of its caches in slabinfo; <see langword="null"/> for "pool".</param>
    /// <returns>The pool.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is below 8 MiB or above 1 GiB.</exception>
    public static unsafe SlabMemoryPool CreatePinned(int maxBytes, string? owner = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 8 << 20);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytes, 1 << 30);

        // Whole 4 MiB sections inside the array only: pinned arrays sit side by side on the pinned object heap, and a
        // section another pool's array also touches could not be this pool's (PageAllocator.Borrowed.cs).
        const int section = PageAllocator.PageSize << PageAllocator.MaxOrder;
        int sections = (int)((maxBytes + (((long)maxBytes / section) + 1) * (long)Arena.MetadataBytes + section - 1) / section);
        byte[] array = GC.AllocateUninitializedArray<byte>((sections + 1) * section, pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        nint aligned = (start + section - 1) & ~(nint)(section - 1);
        var pages = new PageAllocator((void*)aligned, (nuint)sections * section, null);
        return new SlabMemoryPool(array, pages, owner);
    }

    /// <summary>
    /// Whether a disposed owner is kept and handed out again by a later rent, so that a pool in steady state allocates
    /// no managed memory (false by default: every rent gets a new owner, about 48 bytes of managed memory). Only for
    /// callers that dispose each owner exactly once, as Kestrel does: with reuse, an owner disposed a second time after
    /// it was handed out again returns the new renter's buffer. Set it before renting.
    /// </summary>
    public bool ReuseOwners { get; set; }

    /// <summary>Whether the buffers are array segments of one pinned array (<see cref="CreatePinned"/>).</summary>
    public bool IsPinned => _array is not null;

    /// <summary>The allocator buffers come from.</summary>
    public KmallocAllocator Kmalloc { get; }

    /// <summary>Who uses the pool: the <c>slabgen.memory_pool.owner</c> tag of its metrics.</summary>
    public string Owner { get; }

    /// <inheritdoc/>
    public override int MaxBufferSize => MaxSize;

    /// <summary>Buffers rented and not yet returned.</summary>
    public long RentedBuffers => Volatile.Read(ref _rented);

    /// <summary>Bytes of the buffers rented and not yet returned (whole size classes).</summary>
    public long RentedBytes => Volatile.Read(ref _rentedBytes);

    /// <summary>Rents a buffer of at least <paramref name="minBufferSize"/> bytes (<see cref="DefaultBufferSize"/> for -1).</summary>
    /// <param name="minBufferSize">The least size, 0..<see cref="MaxBufferSize"/>, or -1 for the default.</param>
    /// <returns>The buffer's owner: dispose it to return the buffer.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A size below -1 or above <see cref="MaxBufferSize"/>.</exception>
    /// <exception cref="ObjectDisposedException">The pool was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called in interrupt context: a rent may take memory from the OS, which may sleep.</exception>
    /// <exception cref="InsufficientMemoryException">The allocator has no memory left (its cap); the message says which.</exception>
    [MaySleep]
    public override unsafe IMemoryOwner<byte> Rent(int minBufferSize = -1)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (minBufferSize == -1)
        {
            minBufferSize = DefaultBufferSize;
        }

        ArgumentOutOfRangeException.ThrowIfNegative(minBufferSize);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(minBufferSize, MaxSize);
        void* memory = Kmalloc.Kmalloc((nuint)Math.Max(minBufferSize, 1), GfpFlags.Kernel | GfpFlags.NoWarn);
        if (memory == null)
        {
            ThrowNoMemory(minBufferSize);
        }

        int length = (int)Kmem.Ksize(memory);
        if (!ReuseOwners || !_idle.TryDequeue(out SlabMemoryManager? block))
        {
            block = new SlabMemoryManager(this);
        }

        block.Lend((byte*)memory, length);
        Interlocked.Increment(ref _rented);
        Interlocked.Add(ref _rentedBytes, length);
        SlabGenMetrics.RecordRent(Owner, length);
        return block;
    }

    /// <summary>Stops renting (rented buffers may still be returned, and free their memory as they are).</summary>
    /// <param name="disposing">Whether <see cref="MemoryPool{T}.Dispose()"/> called it.</param>
    protected override void Dispose(bool disposing)
    {
        Volatile.Write(ref _disposed, 1);
        ReleaseOwnAllocatorsIfIdle();
    }

    /// <inheritdoc/>
    /// <returns>The pool's owner, allocator and rented buffers.</returns>
    public override string ToString() => $"SlabMemoryPool '{Owner}' over {Kmalloc.Name}: {RentedBuffers} buffers ({RentedBytes:N0} bytes) rented";

    /// <summary>Takes back a buffer its owner (<paramref name="block"/>) was disposed with, and keeps the owner for the next rent.</summary>
    internal unsafe void Return(SlabMemoryManager block, byte* memory, int length)
    {
        Kmem.Kfree(memory);
        Interlocked.Decrement(ref _rented);
        Interlocked.Add(ref _rentedBytes, -length);
        SlabGenMetrics.RecordReturn(Owner, length);
        if (ReuseOwners)
        {
            _idle.Enqueue(block);
        }

        if (Volatile.Read(ref _disposed) != 0)
        {
            ReleaseOwnAllocatorsIfIdle();
        }
    }

    /// <summary>A disposed pinned pool with no buffer out gives its allocators up (once), so its array can be collected.</summary>
    private void ReleaseOwnAllocatorsIfIdle()
    {
        if (_ownPages is not null && Volatile.Read(ref _rented) == 0 && Interlocked.Exchange(ref _disposed, 2) == 1)
        {
            Kmalloc.Dispose();
            _ownPages.Dispose();
        }
    }

    /// <summary>The array segment of a pinned pool's buffer at <paramref name="memory"/>.</summary>
    internal unsafe bool TryGetSegment(byte* memory, int length, out ArraySegment<byte> segment)
    {
        if (_array is null)
        {
            segment = default;
            return false;
        }

        segment = new ArraySegment<byte>(_array, (int)((nint)memory - _arrayBase), length);
        return true;
    }

    [DoesNotReturn]
    private void ThrowNoMemory(int size) =>
        throw new InsufficientMemoryException($"SlabMemoryPool '{Owner}' could not rent {size:N0} bytes: {Kmalloc.Name} found no memory" +
            (Kmalloc.Pages.MaxBytes is long cap ? $" within its page allocator's cap of {cap:N0} bytes." : " (the OS refused)."));
}
