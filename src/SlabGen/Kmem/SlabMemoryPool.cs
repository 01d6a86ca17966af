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

    /// <summary>The bytes a capped pool keeps for rents inside <see cref="UseReserve"/>: 16 buffers of 4 KiB, room for error answers.</summary>
    public const int ReserveBytes = 64 << 10;

    /// <summary>Set inside <see cref="UseReserve"/> scopes; read only when a rent would reach into the reserve.</summary>
    private static readonly AsyncLocal<bool> s_inReserve = new();

    private readonly ConcurrentQueue<SlabMemoryManager> _idle = new();

    /// <summary>A capped pool's reserve: 4 KiB buffers taken when the pool is made, rented only inside <see cref="UseReserve"/> once the pool is exhausted; null for a pool nothing caps.</summary>
    private readonly Stack<nint>? _reserve;

    /// <summary>How many reserve buffers are out: returns refill the reserve first (read by every return, written under the reserve's lock).</summary>
    private int _reserveMissing;

    /// <summary>The pinned array a pinned pool's pages live in, or null; its first byte's address is <see cref="_arrayBase"/>.</summary>
    private readonly byte[]? _array;
    private readonly nint _arrayBase;

    /// <summary>The 4 MiB sections of the array a pinned pool's pages are.</summary>
    private readonly int _sections;

    /// <summary>A pinned pool's own page allocator, disposed once the pool is disposed and every buffer is back.</summary>
    private readonly PageAllocator? _ownPages;

    /// <summary>Whether <see cref="Kmalloc"/> is the pool's own (a named or pinned pool), disposed with the pool once every buffer is back.</summary>
    private readonly bool _ownsKmalloc;
    private long _rented;
    private long _rents;
    private long _rentFailures;
    private long _rentedBytes;
    private int _disposed;

    /// <summary>Creates a pool over <see cref="KmallocAllocator.Shared"/>.</summary>
    public SlabMemoryPool()
        : this(null, null)
    {
    }

    /// <summary>
    /// Creates a pool over <paramref name="kmalloc"/>, whose page allocator's cap bounds the pool. Without an allocator,
    /// a named pool gets its own size caches over <see cref="PageAllocator.Shared"/>, named after
    /// <paramref name="owner"/> in slabinfo (<c>pipes-kmalloc-4k</c>) and destroyed with the pool; an unnamed one
    /// rents from <see cref="KmallocAllocator.Shared"/>'s caches (<c>kmalloc-4k</c>).
    /// </summary>
    /// <param name="kmalloc">The allocator; <see langword="null"/> for the pool's own caches (named pool) or <see cref="KmallocAllocator.Shared"/> (no owner).</param>
    /// <param name="owner">Who uses the pool (for example "pipes"), the tag of its metrics; <see langword="null"/> or empty for "slabgen".</param>
    public SlabMemoryPool(KmallocAllocator? kmalloc, string? owner)
        : this(kmalloc ?? (string.IsNullOrEmpty(owner) ? KmallocAllocator.Shared : new KmallocAllocator(PageAllocator.Shared, owner)),
            owner, ownsKmalloc: kmalloc is null && !string.IsNullOrEmpty(owner), maxBytes: null)
    {
    }

    private SlabMemoryPool(KmallocAllocator kmalloc, string? owner, bool ownsKmalloc, long? maxBytes)
    {
        Kmalloc = kmalloc;
        Owner = string.IsNullOrEmpty(owner) ? "slabgen" : owner;
        _ownsKmalloc = ownsKmalloc;
        MaxBytes = maxBytes ?? kmalloc.Pages.MaxBytes;
        if (CapacityBytes is long capacity && capacity > 4 * ReserveBytes)
        {
            _reserve = TakeReserve();
        }
        KmemMetrics.EnsureRegistered();
        KmemMetrics.AddPool(this);
    }

    private unsafe SlabMemoryPool(byte[] array, PageAllocator pages, string? owner, int maxBytes, int sections)
        : this(new KmallocAllocator(pages, string.IsNullOrEmpty(owner) ? "pool" : owner), owner, ownsKmalloc: true, maxBytes)
    {
        _sections = sections;
        _array = array;
        _arrayBase = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(array));
        _ownPages = pages;
    }

    /// <summary>
    /// Creates a pool whose buffers live in one array of about <paramref name="maxBytes"/> on the pinned object heap:
    /// slab memory that is also an array segment (<see cref="MemoryMarshal.TryGetArray{T}"/>), which Kestrel's sockets
    /// transport requires. The array is the pool's budget: a rent beyond it throws. Its own page and kmalloc
    /// allocators (named after <paramref name="owner"/> in slabinfo) go when the pool is disposed and its buffers are back.
    /// Several pools made at once are better made from one <see cref="PinnedPoolMemory"/>: one large allocation instead of
    /// several (each one after the first of a young process costs a gen-2 collection).
    /// </summary>
    /// <param name="maxBytes">The budget, 8 MiB to 1 GiB; the array is this much plus the page frames, in whole 4 MiB sections, plus 4 MiB of alignment slack that is never touched.</param>
    /// <param name="owner">Who uses the pool, the tag of its metrics and the prefix of its caches in slabinfo; <see langword="null"/> for "pool".</param>
    /// <returns>The pool.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytes"/> is below 8 MiB or above 1 GiB.</exception>
    public static SlabMemoryPool CreatePinned(int maxBytes, string? owner = null) =>
        new PinnedPoolMemory(1, maxBytes).TryCreatePool(owner)!;

    /// <summary>A pool over <paramref name="sections"/> whole sections of <paramref name="array"/> from <paramref name="aligned"/> (PinnedPoolMemory).</summary>
    internal static unsafe SlabMemoryPool CreateOver(byte[] array, nint aligned, int sections, int maxBytes, string? owner)
    {
        var pages = new PageAllocator((void*)aligned, (nuint)sections * (nuint)MaxSize, new PageAllocatorOptions { Name = string.IsNullOrEmpty(owner) ? "pool" : owner + "-pool" });
        return new SlabMemoryPool(array, pages, owner, maxBytes, sections);
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

    /// <summary>
    /// The budget as asked for: <see cref="CreatePinned"/>'s <c>maxBytes</c>, or the cap of the page allocator under
    /// <see cref="Kmalloc"/>; <see langword="null"/> when nothing caps the pool but the machine.
    /// </summary>
    public long? MaxBytes { get; }

    /// <summary>
    /// The bytes the pool can hand out at most, as its pages hold them: <see cref="MaxBytes"/> rounded up to whole 4 MiB
    /// sections less their page frames for a pinned pool (8 MiB gives 12,382,208), the page allocator's cap otherwise;
    /// <see langword="null"/> when nothing caps the pool. Buffers take whole size classes and blocks of 2ⁿ pages, so
    /// fewer bytes of requests fit.
    /// </summary>
    public long? CapacityBytes => Kmalloc.Pages.MaxBytes;

    /// <summary>
    /// About how many rents the pool served since it was made: counted without an interlocked operation, so rents on
    /// several threads at once may count once. It moves whenever the pool serves a rent: a pool whose count stands still is idle.
    /// </summary>
    public long Rents => Volatile.Read(ref _rents);

    /// <summary>Rents refused because the pool's memory was exhausted (each threw <see cref="InsufficientMemoryException"/>).</summary>
    public long RentFailures => Volatile.Read(ref _rentFailures);

    /// <summary>
    /// Raised on the renting thread when a rent is refused for want of memory, before the
    /// <see cref="InsufficientMemoryException"/> is thrown, with the pool and the size asked for (logging, load shedding).
    /// A handler that throws replaces the exception.
    /// </summary>
    public event Action<SlabMemoryPool, int>? RentFailed;

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
        if (memory == null && !TryRentReserve(minBufferSize, out memory))
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
        _rents++; // only ever compared for change (idleness): a lost update under a race still changes it
        Interlocked.Add(ref _rentedBytes, length);
        SlabGenMetrics.RecordRent(Owner, length);
        return block;
    }

    /// <summary>
    /// Lets rents in this scope (this thread and the tasks and continuations it starts, until disposed) that a capped
    /// pool cannot serve take one of its reserve buffers: <see cref="ReserveBytes"/> of 4 KiB buffers each capped pool
    /// takes when it is made and other rents never see. For answering an error (a 503, as SlabGen.AspNetCore does)
    /// when a request found its pool exhausted, since writing the answer needs a buffer too. Returned buffers refill
    /// the reserve first.
    /// </summary>
    /// <returns>The scope: dispose it to end it.</returns>
    public static ReserveScope UseReserve()
    {
        var scope = new ReserveScope(s_inReserve.Value);
        s_inReserve.Value = true;
        return scope;
    }

    /// <summary>
    /// Gives back what the pool holds and does not use: its own caches' free objects and empty slabs (a pool with its
    /// own caches: named or pinned), and for a pinned pool the free pages of its array to the OS (on Linux), so its
    /// resident memory falls back after a burst. A pool on caches it does not own (an unnamed pool, or one over your
    /// <see cref="KmallocAllocator"/>) leaves them to their owner and gives back nothing. SlabGen.AspNetCore calls it for
    /// pools left idle (<c>SlabGen:MemoryPool:TrimAfterIdleSeconds</c>). Any thread may call it, rents may go on.
    /// </summary>
    /// <returns>The bytes given back: of slabs released by the caches, plus (pinned pool) of the free blocks whose pages went to the OS.</returns>
    public long Trim()
    {
        if (!_ownsKmalloc || Volatile.Read(ref _disposed) != 0)
        {
            return 0;
        }

        long bytes = 0;
        foreach (KmemCache cache in Kmalloc.Caches)
        {
            bytes += cache.Shrink();
        }

        return bytes + (_ownPages?.Trim() ?? 0);
    }

    /// <summary>Stops renting (rented buffers may still be returned, and free their memory as they are).</summary>
    /// <param name="disposing">Whether <see cref="MemoryPool{T}.Dispose()"/> called it.</param>
    protected override void Dispose(bool disposing)
    {
        if (Interlocked.CompareExchange(ref _disposed, 1, 0) == 0)
        {
            KmemMetrics.RemovePool(this);
            FreeReserve(); // the reserve came from Kmalloc, which may be the caller's: it goes back now (reserve buffers still out go back on return)
        }

        ReleaseOwnAllocatorsIfIdle();
    }

    /// <inheritdoc/>
    /// <returns>The pool's owner, allocator and rented buffers.</returns>
    public override string ToString() => $"SlabMemoryPool '{Owner}' over {Kmalloc.Name}: {RentedBuffers} buffers ({RentedBytes:N0} bytes) rented";

    /// <summary>Takes back a buffer its owner (<paramref name="block"/>) was disposed with, and keeps the owner for the next rent.</summary>
    internal unsafe void Return(SlabMemoryManager block, byte* memory, int length)
    {
        if (Volatile.Read(ref _reserveMissing) == 0 || !TryRefillReserve(memory, length))
        {
            Kmalloc.Kfree(memory, length);
        }

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

    /// <summary>A disposed pool with no buffer out gives its own allocators up (once): its caches go, a pinned pool's array can be collected.</summary>
    private void ReleaseOwnAllocatorsIfIdle()
    {
        if (_ownsKmalloc && Volatile.Read(ref _rented) == 0 && Interlocked.CompareExchange(ref _disposed, 2, 1) == 1)
        {
            FreeReserve();
            Kmalloc.Dispose();
            _ownPages?.Dispose();
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
    private void ThrowNoMemory(int size)
    {
        Interlocked.Increment(ref _rentFailures);
        SlabGenMetrics.RecordRentFailure(Owner);
        RentFailed?.Invoke(this, size);
        throw new InsufficientMemoryException(NoMemoryMessage(size));
    }

    /// <summary>Takes the reserve's buffers from the pool's allocator (as many as it gives).</summary>
    private unsafe Stack<nint> TakeReserve()
    {
        var reserve = new Stack<nint>(ReserveBytes / DefaultBufferSize);
        for (int i = 0; i < ReserveBytes / DefaultBufferSize; i++)
        {
            void* memory = Kmalloc.Kmalloc(DefaultBufferSize, GfpFlags.Kernel | GfpFlags.NoWarn);
            if (memory == null)
            {
                break;
            }

            reserve.Push((nint)memory);
        }

        return reserve;
    }

    /// <summary>Inside <see cref="UseReserve"/>, a rent of up to 4 KiB the allocator refused takes a reserve buffer.</summary>
    private unsafe bool TryRentReserve(int size, out void* memory)
    {
        memory = null;
        if (_reserve is null || size > DefaultBufferSize || !s_inReserve.Value)
        {
            return false;
        }

        lock (_reserve)
        {
            if (!_reserve.TryPop(out nint buffer))
            {
                return false;
            }

            memory = (void*)buffer;
            _reserveMissing++;
            return true;
        }
    }

    /// <summary>While reserve buffers are out, a returned 4 KiB buffer goes back to the reserve instead of the allocator.</summary>
    private unsafe bool TryRefillReserve(byte* memory, int length)
    {
        if (length != DefaultBufferSize || _reserve is null)
        {
            return false;
        }

        lock (_reserve)
        {
            if (_reserveMissing == 0 || Volatile.Read(ref _disposed) != 0)
            {
                return false;
            }

            _reserve.Push((nint)memory);
            _reserveMissing--;
            return true;
        }
    }

    /// <summary>Gives the reserve's buffers back to the allocator, when the pool goes.</summary>
    private unsafe void FreeReserve()
    {
        if (_reserve is null)
        {
            return;
        }

        lock (_reserve)
        {
            while (_reserve.TryPop(out nint buffer))
            {
                Kmem.Kfree((void*)buffer);
            }
        }
    }

    /// <summary>A scope of <see cref="UseReserve"/>: disposing it ends it.</summary>
    public readonly struct ReserveScope : IDisposable
    {
        private readonly bool _outer;

        internal ReserveScope(bool outer) => _outer = outer;

        /// <summary>Ends the scope: rents leave the reserve alone again, unless an outer scope is still open.</summary>
        public void Dispose() => s_inReserve.Value = _outer;
    }

    /// <summary>Why a rent of <paramref name="size"/> bytes failed: the pool, what it has out, its budget as configured and as its pages hold it.</summary>
    internal string NoMemoryMessage(int size) =>
        $"SlabMemoryPool '{Owner}' could not rent {size:N0} bytes: {RentedBytes:N0} bytes are rented out " +
        (CapacityBytes is not long capacity ? $"and {Kmalloc.Name} found no memory (the OS refused)."
            : IsPinned ? $"of its capacity of {capacity:N0} bytes (configured {MaxBytes:N0} bytes, rounded up to {_sections} sections of 4 MiB less their page frames){ReserveNote()}."
            : $"within its page allocator's cap of {capacity:N0} bytes{ReserveNote()}.");

    private string ReserveNote() => _reserve is null ? "" : $", {_reserve.Count + Volatile.Read(ref _reserveMissing)} buffers of 4 KiB of it kept for error answers (UseReserve)";
}
