// One collection of the SlabGen meter, as slabtop shows it: a row per cache, every page allocator's arenas and free
// blocks per order (the shared one, budgets, allocators over caller memory, pinned pools), and the vmalloc totals. Built from the (instrument, tags, value) triples one collection brings.
using System.Globalization;

namespace SlabGen.Top;

/// <summary>One cache's row: the columns slabtop shows, plus live and per-thread cached objects.</summary>
internal sealed record CacheRow(string Name, long Live, long Active, long Total, long Cached, long SlotSize, long Slabs, long MemoryBytes)
{
    /// <summary>Active objects as a share of all objects (slabtop's USE), 0 for an empty cache.</summary>
    public double Use => Total == 0 ? 0 : (double)Active / Total;
}

/// <summary>One page allocator: its name and id, arenas, bytes from the OS, pages parked per thread, free blocks per order.</summary>
internal sealed record PagesView(string Name, int Id, long Arenas, long OsBytes, long PerThreadPages, IReadOnlyList<long> FreeBlocks)
{
    /// <summary>The allocator as slabtop names it: <c>shared</c>, <c>particles #3</c>.</summary>
    public string Label => Name == "shared" ? Name : $"{Name} #{Id}";

    /// <summary>The kernel's fragmentation index of each order (extfrag_index), see <see cref="Fragmentation"/>.</summary>
    public IReadOnlyList<double> FragmentationIndex => [.. Enumerable.Range(0, FreeBlocks.Count).Select(o => Fragmentation.Index(FreeBlocks, o))];

    /// <summary>Free pages of all orders.</summary>
    public long FreePages => FreeBlocks.Select(static (blocks, order) => blocks << order).Sum();
}

/// <summary>The live vmalloc areas and their bytes.</summary>
internal sealed record VmallocView(long Areas, long Bytes);

/// <summary>The sampling pool's counters (SLABGEN_SAMPLE); all zero when the process does not sample.</summary>
internal sealed record SamplingView(long Sampled, long InUse, long Slots, long Errors)
{
    /// <summary>Whether the process samples: only then does it publish the instruments, with a pool of some slots.</summary>
    public bool Enabled => Slots > 0;
}

/// <summary>Everything one collection of the meter reported; <see cref="PageAllocators"/> has the shared allocator first.</summary>
internal sealed record Snapshot(DateTimeOffset Time, IReadOnlyList<CacheRow> Caches, IReadOnlyList<PagesView> PageAllocators, VmallocView Vmalloc, SamplingView Sampling)
{
    /// <summary>The shared page allocator (an empty view before the process reported one).</summary>
    public PagesView Pages => PageAllocators.FirstOrDefault(static p => p.Name == "shared") ?? new PagesView("shared", 0, 0, 0, 0, new long[11]);

    /// <summary>The allocators to show: every one reported, or the empty shared one when none was (a process not yet allocating).</summary>
    public IReadOnlyList<PagesView> Shown => PageAllocators.Count == 0 ? [Pages] : PageAllocators;
}

/// <summary>Gathers one collection's measurements into a <see cref="Snapshot"/>.</summary>
internal sealed class SnapshotBuilder
{
    private const int Orders = 11;
    private const string PagesPrefix = "slabgen.pages.";

    private readonly Dictionary<string, Dictionary<string, long>> _caches = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long> _values = new(StringComparer.Ordinal);
    private readonly Dictionary<(string Name, int Id), (Dictionary<string, long> Values, long[] FreeBlocks)> _pages = [];

    /// <summary>Whether any SlabGen instrument reported since the last <see cref="Build"/>.</summary>
    public bool HasValues { get; private set; }

    /// <summary>
    /// Takes one measurement: <paramref name="tags"/> as EventPipe writes them (<c>k=v,k2=v2</c>). Instruments this
    /// version does not know are ignored, so a newer runtime with more instruments still shows.
    /// </summary>
    public void Add(string instrument, string tags, long value)
    {
        HasValues = true;
        string? cache = Tag(tags, Contract.CacheTag);
        if (cache is not null && instrument.StartsWith(Contract.CacheInstrumentPrefix, StringComparison.Ordinal))
        {
            if (!_caches.TryGetValue(cache, out Dictionary<string, long>? row))
            {
                _caches[cache] = row = new Dictionary<string, long>(StringComparer.Ordinal);
            }

            row[instrument] = value;
            return;
        }

        if (instrument.StartsWith(PagesPrefix, StringComparison.Ordinal) && !instrument.EndsWith(".leaked_disposals", StringComparison.Ordinal))
        {
            // A runtime before allocator tags described the shared allocator only.
            string name = Tag(tags, Contract.PagesNameTag) ?? "shared";
            int id = int.TryParse(Tag(tags, Contract.AllocatorTag), NumberStyles.None, CultureInfo.InvariantCulture, out int parsed) ? parsed : 0;
            if (!_pages.TryGetValue((name, id), out var pages))
            {
                _pages[(name, id)] = pages = (new Dictionary<string, long>(StringComparer.Ordinal), new long[Orders]);
            }

            if (instrument != Contract.PagesFreeBlocks)
            {
                pages.Values[instrument] = value;
            }
            else if (int.TryParse(Tag(tags, Contract.OrderTag), NumberStyles.None, CultureInfo.InvariantCulture, out int order) && order is >= 0 and < Orders)
            {
                pages.FreeBlocks[order] = value;
            }

            return;
        }

        _values[instrument] = value;
    }

    /// <summary>The snapshot of what was added, then starts over for the next collection.</summary>
    public Snapshot Build(DateTimeOffset time)
    {
        CacheRow[] caches = [.. _caches.Where(static c => c.Value.ContainsKey(Contract.CacheObjectsTotal)).Select(static c => new CacheRow(c.Key,
            Get(c.Value, Contract.CacheObjectsLive), Get(c.Value, Contract.CacheObjectsActive), Get(c.Value, Contract.CacheObjectsTotal),
            Get(c.Value, Contract.CacheObjectsCached), Get(c.Value, Contract.CacheSlotSize), Get(c.Value, Contract.CacheSlabs),
            Get(c.Value, Contract.CacheSize)))];
        PagesView[] pages = [.. _pages.OrderBy(static p => p.Key.Name == "shared" ? -1 : p.Key.Id).Select(static p => new PagesView(p.Key.Name, p.Key.Id,
            Get(p.Value.Values, Contract.PagesArenas), Get(p.Value.Values, Contract.PagesOsBytes), Get(p.Value.Values, Contract.PagesPerThreadPages), [.. p.Value.FreeBlocks]))];
        var snapshot = new Snapshot(time, caches, pages, new VmallocView(Get(_values, Contract.VmallocAreas), Get(_values, Contract.VmallocSize)),
            new SamplingView(Get(_values, Contract.SampleAllocations), Get(_values, Contract.SampleInUse), Get(_values, Contract.SampleSlots), Get(_values, Contract.SampleErrors)));
        _caches.Clear();
        _values.Clear();
        _pages.Clear();
        HasValues = false;
        return snapshot;
    }

    private static long Get(Dictionary<string, long> values, string instrument) => values.GetValueOrDefault(instrument);

    /// <summary>The value of <paramref name="key"/> in EventPipe's tag list, or null.</summary>
    internal static string? Tag(string tags, string key)
    {
        foreach (string pair in tags.Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            int equals = pair.IndexOf('=', StringComparison.Ordinal);
            if (equals > 0 && pair.AsSpan(0, equals).SequenceEqual(key))
            {
                return pair[(equals + 1)..];
            }
        }

        return null;
    }
}
