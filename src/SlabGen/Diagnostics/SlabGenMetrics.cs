// The .NET way to watch the allocator live: a System.Diagnostics.Metrics meter named "SlabGen", read by
// dotnet-counters, OpenTelemetry or any MeterListener. This file is the bottom of the layers (tests' LayeringTests):
// the meter, the counters every layer records into and Observe; the observable instruments that read the allocators
// live with what they read (Pages/PageAllocatorMetrics.cs, Slab/CacheMetrics.cs, Kmem/KmemMetrics.cs). Nothing is
// recorded on the allocation paths (the recorded counters count disposals that found leaks, and interrupt-context
// scopes that allocated managed memory); the numbers are read (under the caches' locks, like slabinfo) only when a
// listener collects.
using System.Diagnostics.Metrics;

namespace SlabGen;

/// <summary>
/// The <c>SlabGen</c> meter: per-cache object and slab counts and bytes, and the shared page allocator's free blocks
/// per order, arenas and bytes from the OS. <c>dotnet-counters monitor --counters SlabGen -n &lt;process&gt;</c> shows them.
/// </summary>
/// <remarks>
/// Each layer's instruments come with its first object: the page-allocator instruments with the first page allocator, the
/// cache instruments with the first slab cache (the kmalloc caches included), the pool and vmalloc instruments with the
/// first <see cref="SlabMemoryPool"/> or vmalloc.
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

    /// <summary>Counts a return of <paramref name="bytes"/> to the pool of <paramref name="owner"/>.</summary>
    internal static void RecordReturn(string owner, int bytes) =>
        s_poolUsed.Add(-bytes, new KeyValuePair<string, object?>(Contract.MemoryPoolOwnerTag, owner));

    /// <summary>Counts an outermost interrupt-context scope that allocated <paramref name="bytes"/> managed bytes (more than 0).</summary>
    internal static void RecordInterruptAllocation(long bytes)
    {
        s_interruptManagedBytes.Add(bytes);
        s_interruptAllocatingScopes.Add(1);
    }

    private static Meter CreateMeter() => new(MeterName, typeof(SlabGenMetrics).Assembly.GetName().Version?.ToString());

    /// <summary>
    /// Adds an instrument that reports <paramref name="measure"/> when a listener collects: how each layer (Pages/,
    /// Slab/, Kmem/) publishes its own numbers on the one meter, which knows none of them.
    /// </summary>
    internal static void Observe(string name, Func<IEnumerable<Measurement<long>>> measure, string unit, string description) =>
        s_meter.CreateObservableUpDownCounter(name, measure, unit, description);

    /// <summary><see cref="Observe(string, Func{IEnumerable{Measurement{long}}}, string, string)"/> of one untagged value.</summary>
    internal static void Observe(string name, Func<long> measure, string unit, string description) =>
        s_meter.CreateObservableUpDownCounter(name, measure, unit, description);

    /// <summary>Counts a cache disposed with objects still allocated.</summary>
    internal static void RecordLeakedDisposal(string cache) =>
        s_cacheLeakedDisposals.Add(1, new KeyValuePair<string, object?>(CacheTag, cache));

    /// <summary>Counts a page allocator disposed while in use.</summary>
    internal static void RecordLeakedDisposal(int allocatorId) =>
        s_pagesLeakedDisposals.Add(1, new KeyValuePair<string, object?>(AllocatorTag, allocatorId));
}
