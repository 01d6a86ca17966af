// A thread's array cache of free objects for one cache: the kernel SLAB's struct array_cache, per thread.
// Alloc pops and free pushes without a lock; an empty cache refills BatchCount objects from the slabs and a
// full one flushes its BatchCount coldest, each under the cache lock once per batch. A free on another
// thread than the allocating one pushes onto the freeing thread's cache: objects migrate, which is correct.
// The cache registers each array cache with its thread; when the thread exits, the next drain returns its
// objects to the slabs.
//
// The fast path reads the array cache through raw pointers, so it is a pinned block:
//   [Cookie][Avail][Limit][entry 0 .. entry Limit-1]
// found through ThreadCacheSlots, an unmanaged per-thread table indexed by cache id: TLS -> slot -> block.
using System.Runtime.CompilerServices;

namespace SlabGen;

internal sealed unsafe class ThreadCache
{
    public const int CookieIndex = 0;
    public const int AvailIndex = 1;
    public const int LimitIndex = 2;
    public const int EntriesIndex = 3;

    /// <summary>The pinned block; kept alive by this object, which its thread's slots and its cache reference.</summary>
    private readonly nint[] _storage;

    public ThreadCache(KmemCache cache, long cookie)
    {
        Cache = cache;
        Limit = cache.Limit;
        BatchCount = cache.BatchCount;
        Thread = Thread.CurrentThread;
        _storage = GC.AllocateArray<nint>(EntriesIndex + Limit, pinned: true);
        Block = (nint*)Unsafe.AsPointer(ref _storage[0]);
        Block[CookieIndex] = (nint)cookie;
        Block[LimitIndex] = Limit;
    }

    public KmemCache Cache { get; }

    public Thread Thread { get; }

    public int Limit { get; }

    public int BatchCount { get; }

    public nint* Block { get; }

    public int Avail
    {
        get => (int)Block[AvailIndex];
        set => Block[AvailIndex] = value;
    }

    /// <summary>All the slots; the first <see cref="Avail"/> hold free objects, the last of them the hottest.</summary>
    public Span<nint> Entries => new(Block + EntriesIndex, Limit);

    public void Push(void* obj) => Block[EntriesIndex + Block[AvailIndex]++] = (nint)obj;

    public void* Pop() => (void*)Block[EntriesIndex + --Block[AvailIndex]];

    /// <summary>The kernel SLAB's enable_cpucache: smaller objects get larger array caches.</summary>
    public static (int Limit, int BatchCount) Tunables(nuint objectSize)
    {
        int limit = objectSize switch
        {
            > 131072 => 1,
            > PageAllocator.PageSize => 8,
            > 1024 => 24,
            > 256 => 54,
            _ => 120,
        };
        return (limit, (limit + 1) / 2);
    }
}

/// <summary>
/// The calling thread's array caches by cache id: a pinned table of block pointers, reached through a raw-pointer
/// thread static (the unmanaged TLS area: one helper call and one load, as a bare [ThreadStatic] free list).
/// The managed thread statics keep the table and every block a slot points at alive while the thread lives, so a
/// slot never dangles; a destroyed cache's block is recognised by its cookie and replaced when its id is reused.
/// </summary>
internal static unsafe class ThreadCacheSlots
{
    [ThreadStatic]
    private static nint* t_table;

    [ThreadStatic]
    private static int t_length;

    /// <summary>How deep the thread is in interrupt-context scopes (<see cref="InterruptContext"/>).</summary>
    [ThreadStatic]
#pragma warning disable CA2211 // a thread-static counter: a property would hide nothing and cost the fast path an accessor
    internal static int InterruptDepth;
#pragma warning restore CA2211

    [ThreadStatic]
    private static nint[]? t_tableStorage;

    [ThreadStatic]
    private static ThreadCache?[]? t_owners;

    /// <summary>The block in slot <paramref name="id"/> on this thread, whichever cache left it; null if none. -1 finds nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint* Find(int id) => (uint)id < (uint)t_length ? (nint*)t_table[id] : null;

    /// <summary>The managed array cache in slot <paramref name="id"/> on this thread, whichever cache left it.</summary>
    public static ThreadCache? Owner(int id)
    {
        ThreadCache?[]? owners = t_owners;
        return owners is not null && (uint)id < (uint)owners.Length ? owners[id] : null;
    }

    public static void Set(int id, ThreadCache cache)
    {
        if (id >= t_length)
        {
            int length = Math.Max(id + 1, Math.Max(64, t_length * 2));
            nint[] storage = GC.AllocateArray<nint>(length, pinned: true);
            Array.Resize(ref t_owners, length);
            t_tableStorage?.CopyTo(storage, 0);
            t_tableStorage = storage;
            t_table = (nint*)Unsafe.AsPointer(ref storage[0]);
            t_length = length;
        }

        t_owners![id] = cache;
        t_table[id] = (nint)cache.Block;
    }
}
