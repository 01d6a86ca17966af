// The names and numbers the runtime, the [SlabCache] generator, the analyzers, the code fixes and slabtop must agree
// on, in one file compiled into the runtime, the generator, the analyzers and slabtop (the code fixes see the
// analyzers' copy).
// The runtime declares its values from these constants where it can (SlabFlags, the page size and orders, the kmalloc
// classes); tests/SlabGen.Tests/ContractTests.cs checks every name and number here against the built runtime, so
// renaming a type or changing a limit on one side fails a test instead of silently breaking the other side.
// netstandard2.0 (the generator and analyzers) compiles this too: constants and arrays only.
namespace SlabGen;

internal static class Contract
{
    /// <summary>Metadata names of the runtime's types that compiled code or the analysis refers to.</summary>
    public const string SlabCacheAttribute = "SlabGen.SlabCacheAttribute";

    public const string SlabConstructorAttribute = "SlabGen.SlabConstructorAttribute";

    public const string InterruptContextAttribute = "SlabGen.InterruptContextAttribute";

    public const string MaySleepAttribute = "SlabGen.MaySleepAttribute";

    /// <summary>The attribute that stops the interrupt-context analysis from following calls into a method.</summary>
    public const string AmortizedAttribute = "SlabGen.AmortizedAttribute";

    public const string InterruptContext = "SlabGen.InterruptContext";

    public const string Kmem = "SlabGen.Kmem";

    public const string GfpFlags = "SlabGen.GfpFlags";

    public const string SlabFlags = "SlabGen.SlabFlags";

    /// <summary>The typed cache the generated <c>Cache</c> property returns, <c>KmemCache&lt;T&gt;</c>.</summary>
    public const string KmemCacheOfT = "SlabGen.KmemCache`1";

    /// <summary>The handle the generated members take and return, <c>SlabRef&lt;T&gt;</c>.</summary>
    public const string SlabRefOfT = "SlabGen.SlabRef`1";

    /// <summary>
    /// How the generator's files are named (<c>Game.Particle.SlabCache.g.cs</c>): the analyzer tells the generator's
    /// members from the user's by it, and the runtime skips their frames when it names a caller.
    /// </summary>
    public const string GeneratedFileSuffix = ".SlabCache.g.cs";

    /// <summary>The thread's handle for hot loops the generated <c>ThisThread</c> property returns, <c>SlabThreadCache&lt;T&gt;</c>.</summary>
    public const string SlabThreadCacheOfT = "SlabGen.SlabThreadCache`1";

    /// <summary>The generated code's entry points, <c>SlabGen.CompilerServices.TypeCache&lt;T&gt;</c>.</summary>
    public const string TypeCacheOfT = "SlabGen.CompilerServices.TypeCache`1";

    /// <summary>The <c>GfpFlags</c> member that never sleeps, which the analyzers and code fixes offer.</summary>
    public const string AtomicFlag = "Atomic";

    /// <summary>The <c>GfpFlags</c> member that may sleep, which SLAB102 looks for.</summary>
    public const string KernelFlag = "Kernel";

    /// <summary>The <c>InterruptContext</c> method whose scope SLAB106 and the analysis of a scope's body see.</summary>
    public const string InterruptContextEnter = "Enter";

    /// <summary>SlabFlags' values: the runtime's enum is declared from them, the generator writes them back as names.</summary>
    public const uint HwCacheAlign = 1 << 0;

    public const uint Poison = 1 << 1;

    public const uint RedZone = 1 << 2;

    public const uint StoreUser = 1 << 3;

    public const uint ConsistencyChecks = 1 << 4;

    /// <summary>The SlabFlags members by name, in declaration order.</summary>
    public static readonly string[] SlabFlagNames = ["HwCacheAlign", "Poison", "RedZone", "StoreUser", "ConsistencyChecks"];

    /// <summary>The SlabFlags members' values, in the order of <see cref="SlabFlagNames"/>.</summary>
    public static readonly uint[] SlabFlagValues = [HwCacheAlign, Poison, RedZone, StoreUser, ConsistencyChecks];

    /// <summary>Bytes in a page: also the largest alignment a slab object may ask for.</summary>
    public const int PageSize = 4096;

    /// <summary>The largest block order: a slab is at most 2^MaxOrder pages.</summary>
    public const int MaxOrder = 10;

    /// <summary>The largest slab, so the largest object a cache can hold with nothing else in the slab: 4 MiB.</summary>
    public const long MaxSlabBytes = (long)PageSize << MaxOrder;

    /// <summary>The largest kmalloc size class; above it Kmalloc takes whole pages.</summary>
    public const int KmallocMaxCacheSize = 8192;

    /// <summary>The metrics meter's name, its tags and its instruments' names (SlabGenMetrics.cs publishes them, slabtop reads them).</summary>
    public const string MeterName = "SlabGen";

    public const string CacheTag = "slabgen.cache.name";

    public const string AllocatorTag = "slabgen.pages.allocator";

    public const string OrderTag = "slabgen.pages.order";

    /// <summary>What every per-cache instrument's name starts with.</summary>
    public const string CacheInstrumentPrefix = "slabgen.cache.";

    public const string CacheObjectsLive = CacheInstrumentPrefix + "objects.live";

    public const string CacheObjectsActive = CacheInstrumentPrefix + "objects.active";

    public const string CacheObjectsTotal = CacheInstrumentPrefix + "objects.total";

    public const string CacheObjectsCached = CacheInstrumentPrefix + "objects.cached";

    public const string CacheSlotSize = CacheInstrumentPrefix + "slot_size";

    public const string CacheSlabs = CacheInstrumentPrefix + "slabs";

    public const string CacheSize = CacheInstrumentPrefix + "size";

    public const string CacheObjectsReserved = CacheInstrumentPrefix + "objects.reserved";

    /// <summary>The tag that names a page allocator (PageAllocator.Name) on the page instruments.</summary>
    public const string PagesNameTag = "slabgen.pages.name";

    public const string PagesFreeBlocks = "slabgen.pages.free_blocks";

    public const string PagesPerThreadPages = "slabgen.pages.per_thread_pages";

    public const string PagesArenas = "slabgen.pages.arenas";

    public const string PagesOsBytes = "slabgen.pages.os_bytes";

    public const string PagesReserved = "slabgen.pages.reserved";

    public const string MemoryPoolRented = "slabgen.memory_pool.rented";

    public const string MemoryPoolUsed = "slabgen.memory_pool.used";

    public const string MemoryPoolRentFailures = "slabgen.memory_pool.rent_failures";

    public const string MemoryPoolCapacity = "slabgen.memory_pool.capacity";

    /// <summary>The tag that names a SlabMemoryPool's owner on its instruments.</summary>
    public const string MemoryPoolOwnerTag = "slabgen.memory_pool.owner";

    public const string SampleAllocations = "slabgen.sample.allocations";

    public const string SampleInUse = "slabgen.sample.in_use";

    public const string SampleSlots = "slabgen.sample.slots";

    public const string SampleErrors = "slabgen.sample.errors";

    public const string VmallocAreas = "slabgen.vmalloc.areas";

    public const string VmallocSize = "slabgen.vmalloc.size";

    /// <summary>The Kmem methods that take memory straight from the OS (each marked [MaySleep]): SLAB101's calls.</summary>
    public static readonly string[] VmallocMethods = ["Vmalloc", "Vzalloc", "Kvmalloc"];
}
