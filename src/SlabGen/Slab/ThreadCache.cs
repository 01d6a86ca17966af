// A thread's array cache of free objects for one cache: the kernel SLAB's struct array_cache, per thread.
// Alloc pops and free pushes without a lock; an empty cache refills BatchCount objects from the slabs and a
// full one flushes its BatchCount coldest, each under the cache lock once per batch. A free on another
// thread than the allocating one pushes onto the freeing thread's cache: objects migrate, which is correct.
// When a thread exits, the cache's registry notices (Thread.IsAlive) and returns its objects to the slabs.
namespace SlabGen;

internal sealed class ThreadCache : ThreadLocalState
{
    public ThreadCache(KmemCache cache)
        : base(cache)
    {
        Limit = cache.Limit;
        BatchCount = cache.BatchCount;
        Entries = new nint[Limit];
        Thread = Thread.CurrentThread;
    }

    /// <summary>The free objects; the last <see cref="Avail"/> slots hold the hottest.</summary>
    public readonly nint[] Entries;

    public readonly int Limit;

    public readonly int BatchCount;

    public readonly Thread Thread;

    public int Avail;

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
