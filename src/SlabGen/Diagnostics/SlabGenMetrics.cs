// The .NET way to watch the allocator live: a System.Diagnostics.Metrics meter named "SlabGen", read by
// dotnet-counters, OpenTelemetry or any MeterListener. Nothing is recorded on the allocation paths (the recorded
// counters count disposals that found leaks, and interrupt-context scopes that allocated managed memory); the numbers
// are read (under the caches' locks, like slabinfo) only when a listener collects.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace SlabGen;

/// <summary>
/// The <c>SlabGen</c> meter: per-cache object and slab counts and bytes, and the shared page allocator's free blocks
/// per order, arenas and bytes from the OS. <c>dotnet-counters monitor --counters SlabGen -n &lt;process&gt;</c> shows them.
/// </summary>
/// <remarks>
/// The meter comes into being with the first page allocator or slab cache (the kmalloc caches included).
/// Cache instruments carry the tag <see cref="CacheTag"/>; page-allocator instruments describe every live allocator,
/// tagged with <see cref="PagesNameTag"/> and <see cref="AllocatorTag"/>, and the free-block instrument also carries
/// <see cref="OrderTag"/>.
/// </remarks>
public static class SlabGenMetrics
{
    /// <summary>The meter's name, for <c>dotnet-counters --counters</c> and OpenTelemetry's <c>AddMeter</c>.</summary>
    public const string MeterName = Contract.MeterName;

    /// <summary>The tag that names the cache on every cache instrument.</summary>
    public const string CacheTag = Contract.CacheTag;

    /// <summary>The tag that gives a page allocator's id (as its leak report names it) on <c>slabgen.pages.leaked_disposals</c>.</summary>
    public const string AllocatorTag = Contract.AllocatorTag;

    /// <summary>The tag that names the page allocator (<see cref="PageAllocator.Name"/>) on every page instrument; <see cref="AllocatorTag"/> beside it gives its id.</summary>
    public const string PagesNameTag = Contract.PagesNameTag;

    /// <summary>The tag that gives the block order on <c>slabgen.pages.free_blocks</c>.</summary>
    public const string OrderTag = Contract.OrderTag;

    private static readonly Meter s_meter = CreateMeter();

    /// <summary>Caches disposed with objects still allocated, tagged with <see cref="CacheTag"/>.</summary>
    private static readonly Counter<long> s_cacheLeakedDisposals = s_meter.CreateCounter<long>("slabgen.cache.leaked_disposals",
        "{cache}", "Caches disposed with objects still allocated, which stay in place (the SlabGen event source's CacheLeaked event has the report).");

    /// <summary>Page allocators disposed while in use, tagged with <see cref="AllocatorTag"/>.</summary>
    private static readonly Counter<long> s_pagesLeakedDisposals = s_meter.CreateCounter<long>("slabgen.pages.leaked_disposals",
        "{allocator}", "Page allocators disposed while caches or blocks still used them, which keep their memory (the SlabGen event source's AllocatorLeaked event has the report).");

    /// <summary>Managed bytes allocated inside outermost interrupt-context scopes (InterruptContext.Enter).</summary>
    private static readonly Counter<long> s_interruptManagedBytes = s_meter.CreateCounter<long>("slabgen.interrupt.managed_bytes",
        "By", "Managed (GC) bytes threads allocated inside outermost InterruptContext scopes: a frame that allocates brings the next GC pause closer.");

    /// <summary>Outermost interrupt-context scopes that allocated managed memory.</summary>
    private static readonly Counter<long> s_interruptAllocatingScopes = s_meter.CreateCounter<long>("slabgen.interrupt.allocating_scopes",
        "{scope}", "Outermost InterruptContext scopes inside which the thread allocated managed memory.");

    /// <summary>Buffers rented from SlabMemoryPools, tagged with the pool's owner.</summary>
    private static readonly Counter<long> s_poolRented = s_meter.CreateCounter<long>(Contract.MemoryPoolRented,
        "{buffer}", "Buffers rented from SlabMemoryPools.");

    /// <summary>Bytes of SlabMemoryPool buffers rented now, tagged with the pool's owner.</summary>
    private static readonly UpDownCounter<long> s_poolUsed = s_meter.CreateUpDownCounter<long>(Contract.MemoryPoolUsed,
        "By", "Bytes of the buffers SlabMemoryPools have rented out and not yet had back (whole kmalloc classes).");

    /// <summary>Rents refused by SlabMemoryPools for want of memory, tagged with the pool's owner.</summary>
    private static readonly Counter<long> s_poolRentFailures = s_meter.CreateCounter<long>(Contract.MemoryPoolRentFailures,
        "{rent}", "Rents SlabMemoryPools refused because their memory was exhausted (each threw InsufficientMemoryException).");

    /// <summary>The live pools with a capacity, for slabgen.memory_pool.capacity.</summary>
    private static readonly ConcurrentDictionary<SlabMemoryPool, byte> s_pools = new();

    /// <summary>Counts a rent of <paramref name="bytes"/> from the pool of <paramref name="owner"/>.</summary>
    internal static void RecordRent(string owner, int bytes)
    {
        var tag = new KeyValuePair<string, object?>(Contract.MemoryPoolOwnerTag, owner);
        s_poolRented.Add(1, tag);
        s_poolUsed.Add(bytes, tag);
    }

    /// <summary>Counts a rent the pool of <paramref name="owner"/> refused for want of memory.</summary>
    internal static void RecordRentFailure(string owner) =>
        s_poolRentFailures.Add(1, new KeyValuePair<string, object?>(Contract.MemoryPoolOwnerTag, owner));

    /// <summary>Adds a pool to <c>slabgen.memory_pool.capacity</c> (a pool nothing caps is left out).</summary>
    internal static void AddPool(SlabMemoryPool pool)
    {
        if (pool.CapacityBytes is not null)
        {
            s_pools.TryAdd(pool, 0);
        }
    }

    /// <summary>Takes a disposed pool out of <c>slabgen.memory_pool.capacity</c>.</summary>
    internal static void RemovePool(SlabMemoryPool pool) => s_pools.TryRemove(pool, out _);

    /// <summary>Counts a return of <paramref name="bytes"/> to the pool of <paramref name="owner"/>.</summary>
    internal static void RecordReturn(string owner, int bytes) =>
        s_poolUsed.Add(-bytes, new KeyValuePair<string, object?>(Contract.MemoryPoolOwnerTag, owner));

    /// <summary>Counts an outermost interrupt-context scope that allocated <paramref name="bytes"/> managed bytes (more than 0).</summary>
    internal static void RecordInterruptAllocation(long bytes)
    {
        s_interruptManagedBytes.Add(bytes);
        s_interruptAllocatingScopes.Add(1);
    }

    /// <summary>Creates the meter and its instruments if they do not exist yet. Called by the allocators; harmless to call again.</summary>
    internal static void EnsureCreated() => _ = s_meter;

    private static Meter CreateMeter()
    {
        var meter = new Meter(MeterName, typeof(SlabGenMetrics).Assembly.GetName().Version?.ToString());
        meter.CreateObservableUpDownCounter(Contract.CacheObjectsLive, () => PerCache(static e => e.LiveObjects),
            "{object}", "Objects allocated and not yet freed: what to watch for leaks.");
        meter.CreateObservableUpDownCounter(Contract.CacheObjectsActive, () => PerCache(static e => e.ActiveObjects),
            "{object}", "Objects allocated or parked in threads' array caches and the depot (slabinfo's active_objs).");
        meter.CreateObservableUpDownCounter(Contract.CacheObjectsTotal, () => PerCache(static e => e.TotalObjects),
            "{object}", "Objects of all slabs of the cache (slabinfo's num_objs).");
        meter.CreateObservableUpDownCounter(Contract.CacheObjectsCached, () => PerCache(static e => e.ActiveObjects - e.LiveObjects),
            "{object}", "Free objects parked in threads' array caches and the depot: active but not live.");
        meter.CreateObservableUpDownCounter(Contract.CacheSlotSize, () => PerCache(static e => e.SlotSize),
            "By", "Bytes per object slot, padding and debug metadata included (slabinfo's objsize).");
        meter.CreateObservableUpDownCounter(Contract.CacheSlabs, () => PerCache(static e => e.Slabs),
            "{slab}", "Slabs of the cache (slabinfo's num_slabs).");
        meter.CreateObservableUpDownCounter(Contract.CacheSize, () => PerCache(static e => e.Slabs * e.PagesPerSlab * PageAllocator.PageSize),
            "By", "Bytes of pages the cache's slabs hold.");
        meter.CreateObservableUpDownCounter(Contract.CacheObjectsReserved, () => PerCache(static e => e.ReservedObjects),
            "{object}", "Objects the cache keeps slabs for (KmemCache.Reserve): Atomic allocations up to that many live objects need no new memory.");
        meter.CreateObservableUpDownCounter(Contract.PagesFreeBlocks, FreeBlocks,
            "{block}", "Free blocks of each live page allocator, per order (/proc/buddyinfo).");
        meter.CreateObservableUpDownCounter(Contract.PagesPerThreadPages, static () => PerAllocator(static a => a.BuddyInfo().PerThreadPages),
            "{page}", "Free pages of each live page allocator parked on threads' per-thread lists.");
        meter.CreateObservableUpDownCounter(Contract.PagesArenas, static () => PerAllocator(static a => (long)a.ArenaCount),
            "{arena}", "4 MiB arenas each live page allocator holds.");
        meter.CreateObservableUpDownCounter(Contract.PagesOsBytes, static () => PerAllocator(static a => a.BytesFromOs),
            "By", "Bytes each live page allocator has taken from the OS (0 for one over caller memory).");
        meter.CreateObservableUpDownCounter(Contract.PagesReserved, static () => PerAllocator(static a => a.ReservedBytes),
            "By", "Bytes each live page allocator keeps free for Atomic allocations (PageAllocator.Reserve).");
        meter.CreateObservableUpDownCounter(Contract.MemoryPoolCapacity, PoolCapacities,
            "By", "Bytes the live capped SlabMemoryPools can hand out at most, summed per owner (a pinned pool's budget rounded to whole 4 MiB sections).");
        meter.CreateObservableUpDownCounter(Contract.VmallocAreas, static () => Kmem.VmallocTotals().Areas,
            "{area}", "Live vmalloc areas (/proc/vmallocinfo's lines).");
        meter.CreateObservableUpDownCounter(Contract.VmallocSize, static () => Kmem.VmallocTotals().Bytes,
            "By", "Bytes of the live vmalloc areas, taken from the OS outside the page allocator.");
        return meter;
    }

    /// <summary>Counts a cache disposed with objects still allocated.</summary>
    internal static void RecordLeakedDisposal(string cache) =>
        s_cacheLeakedDisposals.Add(1, new KeyValuePair<string, object?>(CacheTag, cache));

    /// <summary>Counts a page allocator disposed while in use.</summary>
    internal static void RecordLeakedDisposal(int allocatorId) =>
        s_pagesLeakedDisposals.Add(1, new KeyValuePair<string, object?>(AllocatorTag, allocatorId));

    /// <summary>
    /// A measurement per live cache that has held a slab or a reserve since it was made: a cache never used (most of a
    /// kmalloc allocator's 41 classes) has nothing but zeros to say, and stays out until it is used; once in, it stays
    /// until destroyed, so a series never stops while the cache lives.
    /// </summary>
    private static IEnumerable<Measurement<long>> PerCache(Func<SlabInfoEntry, long> value)
    {
        foreach (KmemCache cache in CacheRegistry.All())
        {
            SlabInfoEntry? entry = cache.SlabInfoEntry();
            if (entry is null)
            {
                continue;
            }

            if (!cache.ShownInMetrics)
            {
                if (entry.Slabs == 0 && entry.ReservedObjects == 0)
                {
                    continue;
                }

                cache.ShownInMetrics = true;
            }

            yield return new Measurement<long>(value(entry), new KeyValuePair<string, object?>(CacheTag, entry.Name));
        }
    }

    private static IEnumerable<Measurement<long>> PoolCapacities() =>
        s_pools.Keys.GroupBy(static pool => pool.Owner).Select(static owner => new Measurement<long>(
            owner.Sum(static pool => pool.CapacityBytes ?? 0), new KeyValuePair<string, object?>(Contract.MemoryPoolOwnerTag, owner.Key)));

    /// <summary>A measurement per live page allocator, tagged with its name and id; a disposed one is skipped.</summary>
    private static IEnumerable<Measurement<long>> PerAllocator(Func<PageAllocator, long> value)
    {
        foreach (PageAllocator allocator in PageAllocator.Live)
        {
            long measured;
            try
            {
                measured = value(allocator);
            }
            catch (ObjectDisposedException)
            {
                continue; // disposed between the listing and the reading
            }

            yield return new Measurement<long>(measured, AllocatorTags(allocator));
        }
    }

    private static IEnumerable<Measurement<long>> FreeBlocks()
    {
        foreach (PageAllocator allocator in PageAllocator.Live)
        {
            IReadOnlyList<long> free;
            try
            {
                free = allocator.BuddyInfo().FreeBlocks;
            }
            catch (ObjectDisposedException)
            {
                continue;
            }

            for (int order = 0; order < free.Count; order++)
            {
                yield return new Measurement<long>(free[order], [.. AllocatorTags(allocator), new KeyValuePair<string, object?>(OrderTag, order)]);
            }
        }
    }

    private static KeyValuePair<string, object?>[] AllocatorTags(PageAllocator allocator) =>
        [new(PagesNameTag, allocator.Name), new(AllocatorTag, allocator.Id)];
}
