// /proc/slabinfo for SlabGen's caches, version 2.1, with the kernel's column layout (mm/slab_common.c).
using System.Globalization;
using System.Text;

namespace SlabGen;

/// <summary>One cache's row of slabinfo: the columns of <c>/proc/slabinfo</c> version 2.1.</summary>
/// <param name="Name">The cache's name.</param>
/// <param name="ActiveObjects">
/// Objects not on a slab's freelist: allocated, or parked in threads' array caches and the depot (active_objs, as the
/// kernel's SLAB counts them). For leaks, watch <see cref="LiveObjects"/>.
/// </param>
/// <param name="TotalObjects">Objects of all slabs (num_objs).</param>
/// <param name="SlotSize">Bytes per object slot, with padding and debug metadata (objsize, the kernel's <c>size</c>; <see cref="KmemCache.ObjectSize"/> is the size asked for, the kernel's <c>object_size</c>).</param>
/// <param name="ObjectsPerSlab">Objects in one slab (objperslab).</param>
/// <param name="PagesPerSlab">Pages in one slab (pagesperslab).</param>
/// <param name="Limit">The most objects of a thread's array cache (tunables limit).</param>
/// <param name="BatchCount">Objects moved per refill or flush (tunables batchcount).</param>
/// <param name="SharedFactor">How many full magazines the cache's depot holds at most (tunables sharedfactor; 0 for debug caches).</param>
/// <param name="ActiveSlabs">Slabs with at least one object in use (active_slabs).</param>
/// <param name="Slabs">All slabs (num_slabs).</param>
/// <param name="SharedAvailable">Objects in the depot's full magazines now (sharedavail).</param>
public sealed record SlabInfoEntry(
    string Name, long ActiveObjects, long TotalObjects, long SlotSize, int ObjectsPerSlab, int PagesPerSlab,
    int Limit, int BatchCount, int SharedFactor, long ActiveSlabs, long Slabs, long SharedAvailable)
{
    /// <summary>
    /// Objects allocated and not yet freed: <see cref="ActiveObjects"/> without those parked in threads' array caches
    /// and the depot. Exact when no allocation or free of the cache is in flight. Not a column of /proc/slabinfo.
    /// </summary>
    public long LiveObjects { get; init; }

    /// <summary>The cache's options, the per-process debug flags included (<see cref="SlabDebug"/>). Printed after the row when it has debug flags.</summary>
    public SlabFlags Flags { get; init; }

    /// <summary>The objects the cache keeps slabs for (<see cref="KmemCache.Reserve"/>). Not a column of /proc/slabinfo.</summary>
    public long ReservedObjects { get; init; }

    /// <summary>
    /// The row as <c>/proc/slabinfo</c> prints it; a cache with debug flags gets them after the row as the kernel's
    /// slab_debug letters (<c> : debug FZPU</c>), which /proc/slabinfo itself does not show.
    /// </summary>
    /// <returns>The row, as /proc/slabinfo prints it.</returns>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"{Name,-17} {ActiveObjects,6} {TotalObjects,6} {SlotSize,6} {ObjectsPerSlab,4} {PagesPerSlab,4}" +
        $" : tunables {Limit,4} {BatchCount,4} {SharedFactor,4} : slabdata {ActiveSlabs,6} {Slabs,6} {SharedAvailable,6}{DebugLetters()}");

    private string DebugLetters()
    {
        string letters = ((Flags & SlabFlags.ConsistencyChecks) != 0 ? "F" : "") + ((Flags & SlabFlags.RedZone) != 0 ? "Z" : "")
            + ((Flags & SlabFlags.Poison) != 0 ? "P" : "") + ((Flags & SlabFlags.StoreUser) != 0 ? "U" : "");
        return letters.Length == 0 ? "" : " : debug " + letters;
    }
}

/// <summary>Every live <see cref="KmemCache"/> of the process, as <c>/proc/slabinfo</c> shows the kernel's.</summary>
public static class SlabInfo
{
    /// <summary>The first line of the report.</summary>
    public const string Header = "slabinfo - version: 2.1";

    /// <summary>The second line of the report: the column names.</summary>
    public const string ColumnHeader = "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab>" +
        " : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>";

    /// <summary>A row per live cache, in creation order; destroyed caches are gone.</summary>
    /// <returns>One row per live cache, in creation order.</returns>
    public static IReadOnlyList<SlabInfoEntry> Snapshot()
    {
        KmemCache[] caches = CacheRegistry.All();
        var entries = new List<SlabInfoEntry>(caches.Length);
        foreach (KmemCache cache in caches)
        {
            SlabInfoEntry? entry = cache.SlabInfoEntry();
            if (entry is not null)
            {
                entries.Add(entry);
            }
        }

        return entries;
    }

    /// <summary>
    /// The whole report: the two header lines and a row per cache, each ending in a newline; in a process that samples
    /// allocations (<see cref="Sampling"/>), a last comment line with the sampling pool's counters.
    /// </summary>
    /// <returns>The report, header lines included.</returns>
    public static string Format()
    {
        var report = new StringBuilder().Append(Header).Append('\n').Append(ColumnHeader).Append('\n');
        foreach (SlabInfoEntry entry in Snapshot())
        {
            report.Append(entry).Append('\n');
        }

        if (Sampling.IsEnabled)
        {
            SamplingStatistics s = Sampling.GetStatistics();
            report.Append(CultureInfo.InvariantCulture, $"# sampling {Sampling.Rate}: {s.Sampled} sampled, {s.InUse}/{s.Slots} slots in use, {s.Errors} errors, {s.Skipped} skipped\n");
        }

        return report.ToString();
    }
}
