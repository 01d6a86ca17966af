// What the allocator reports that is not a number: events on the "SlabGen" EventSource, read by dotnet-trace,
// PerfView, an EventListener or any EventPipe session. Nothing is written on the allocation paths; an event is a
// rare misuse that the allocator survives, reported once instead of thrown where .NET code must not throw.
using System.Diagnostics.Tracing;

namespace SlabGen;

/// <summary>
/// The <c>SlabGen</c> event source: <c>dotnet-trace collect --providers SlabGen -n &lt;process&gt;</c> records its events.
/// </summary>
[EventSource(Name = SourceName)]
public sealed class SlabGenEventSource : EventSource
{
    /// <summary>The event source's name, for <c>--providers</c> and <see cref="EventListener.EnableEvents(EventSource, EventLevel)"/>.</summary>
    public const string SourceName = "SlabGen";

    /// <summary>The id of <see cref="CacheLeaked"/>.</summary>
    public const int CacheLeakedId = 1;

    /// <summary>The id of <see cref="AllocatorLeaked"/>.</summary>
    public const int AllocatorLeakedId = 2;

    /// <summary>The id of <see cref="FreelistCorrupted"/>.</summary>
    public const int FreelistCorruptedId = 3;

    /// <summary>The id of <see cref="DebugOptionIgnored"/>.</summary>
    public const int DebugOptionIgnoredId = 4;

    /// <summary>The id of <see cref="FreedBlockWritten"/>.</summary>
    public const int FreedBlockWrittenId = 5;

    /// <summary>The one instance.</summary>
    public static readonly SlabGenEventSource Log = new();

    private SlabGenEventSource()
    {
    }

    /// <summary>
    /// A cache was disposed with objects still allocated: it stays in place with its slabs (as the kernel's
    /// kmem_cache_destroy leaves such a cache), and this is reported once per cache.
    /// </summary>
    /// <param name="cacheName">The cache's name.</param>
    /// <param name="liveObjects">Objects still allocated.</param>
    /// <param name="report">The leak report: the count, and where the objects were allocated under <see cref="SlabFlags.StoreUser"/>.</param>
    [Event(CacheLeakedId, Level = EventLevel.Warning, Message = "{2}")]
    public void CacheLeaked(string cacheName, long liveObjects, string report) => WriteEvent(CacheLeakedId, cacheName, liveObjects, report);

    /// <summary>
    /// A page allocator was disposed while caches or allocated blocks still used it: it keeps its memory and stays
    /// usable, and this is reported once per allocator.
    /// </summary>
    /// <param name="allocatorId">The allocator's id (<c>PageAllocator #id</c> in the report).</param>
    /// <param name="report">What is left: the caches by name and the pages still allocated.</param>
    [Event(AllocatorLeakedId, Level = EventLevel.Warning, Message = "{1}")]
    public void AllocatorLeaked(int allocatorId, string report) => WriteEvent(AllocatorLeakedId, allocatorId, report);

    /// <summary>
    /// A free object's free pointer did not lead to an object of its slab (memory written after it was freed, or an
    /// overflow into it). The pointer was not followed; the rest of that slab's freelist was dropped, so nothing
    /// wrong is ever handed out. Debug caches also throw from the allocation that found it.
    /// </summary>
    /// <param name="cacheName">The cache's name.</param>
    /// <param name="report">The object whose pointer was corrupt, and where it led.</param>
    [Event(FreelistCorruptedId, Level = EventLevel.Error, Message = "{1}")]
    public void FreelistCorrupted(string cacheName, string report) => WriteEvent(FreelistCorruptedId, cacheName, report);

    /// <summary>Part of the per-process debug option (<see cref="SlabDebug"/>) was not understood and was ignored.</summary>
    /// <param name="report">What was ignored, and the letters that are known.</param>
    [Event(DebugOptionIgnoredId, Level = EventLevel.Warning, Message = "{0}")]
    public void DebugOptionIgnored(string report) => WriteEvent(DebugOptionIgnoredId, report);

    /// <summary>
    /// A freed kmalloc block above 8 KiB, kept poisoned in the debug quarantine, was written after it was freed, and
    /// this was found where nothing may throw: when its allocator was disposed (a KmallocAllocator's Dispose). Found at
    /// an allocation or a free, the same report is thrown instead.
    /// </summary>
    /// <param name="allocatorName">The kmalloc allocator's name.</param>
    /// <param name="report">The block, the first byte that changed, its value and the value expected.</param>
    [Event(FreedBlockWrittenId, Level = EventLevel.Error, Message = "{1}")]
    public void FreedBlockWritten(string allocatorName, string report) => WriteEvent(FreedBlockWrittenId, allocatorName, report);
}
