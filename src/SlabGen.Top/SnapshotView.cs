// What slabtop shows, drawn with Spectre.Console: the summary lines (a Pages line per page allocator), the cache table
// in the chosen order, the free blocks per order of the allocator holding the most memory as a bar chart, and the
// fragmentation index of each order for every allocator beneath.
using System.Globalization;
using Spectre.Console;
using Spectre.Console.Rendering;

namespace SlabGen.Top;

internal static class SnapshotView
{
    /// <summary>The whole screen for <paramref name="snapshot"/> of <paramref name="target"/>, caches in <paramref name="sort"/> order.</summary>
    public static IRenderable Render(TargetProcess target, Snapshot snapshot, SortKey sort)
    {
        var rows = new List<IRenderable>
        {
            new Markup(Markup.Escape($"slabtop  {target}  {snapshot.Time.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture)}  sort: {SortKeys.Describe(sort)}")),
            Summary(snapshot),
            Caches(snapshot, sort),
            FreeBlocks(snapshot.Shown),
        };
        return new Rows(rows);
    }

    private static Grid Summary(Snapshot s)
    {
        long total = s.Caches.Sum(static c => c.Total), active = s.Caches.Sum(static c => c.Active);
        long live = s.Caches.Sum(static c => c.Live), cached = s.Caches.Sum(static c => c.Cached);
        long memory = s.Caches.Sum(static c => c.MemoryBytes);
        long activeBytes = s.Caches.Sum(static c => c.Active * c.SlotSize), totalBytes = s.Caches.Sum(static c => c.Total * c.SlotSize);
        var grid = new Grid().AddColumn().AddColumn();
        Line(grid, "Active / Total Objects (% used)", $"{active} / {total} ({Percent(active, total)})");
        Line(grid, "Live / Per-thread cached objects", $"{live} / {cached}");
        Line(grid, "Active / Total Caches (% used)", $"{s.Caches.Count(static c => c.Active > 0)} / {s.Caches.Count} ({Percent(s.Caches.Count(static c => c.Active > 0), s.Caches.Count)})");
        Line(grid, "Active / Total Size (% used)", $"{Kib(activeBytes)} / {Kib(totalBytes)} ({Percent(activeBytes, totalBytes)})");
        Line(grid, "Slab memory", Kib(memory));
        foreach (PagesView pages in s.Shown)
        {
            Line(grid, $"Pages {pages.Label}", $"arenas {pages.Arenas}, from the OS {Kib(pages.OsBytes)}, free pages {pages.FreePages}, on per-thread lists {pages.PerThreadPages}");
        }

        Line(grid, "vmalloc", $"areas {s.Vmalloc.Areas}, size {Kib(s.Vmalloc.Bytes)}");
        if (s.Sampling.Enabled)
        {
            Line(grid, "Sampling", $"{s.Sampling.Sampled} sampled, {s.Sampling.InUse} / {s.Sampling.Slots} slots in use, {s.Sampling.Errors} errors caught");
        }

        return grid;
    }

    private static void Line(Grid grid, string label, string value) =>
        grid.AddRow(new Text(" " + label), new Text(": " + value));

    private static Table Caches(Snapshot s, SortKey sort)
    {
        var table = new Table().Border(TableBorder.Simple);
        foreach (string column in (string[])["OBJS", "ACTIVE", "LIVE", "CACHED", "USE", "OBJ SIZE", "SLABS", "CACHE SIZE"])
        {
            table.AddColumn(new TableColumn(column).RightAligned().NoWrap().Padding(1, 0));
        }

        table.AddColumn(new TableColumn("NAME").NoWrap().Padding(1, 0));
        foreach (CacheRow row in SortKeys.Order(s.Caches, sort))
        {
            table.AddRow(Number(row.Total), Number(row.Active), Number(row.Live), Number(row.Cached),
                Percent(row.Active, row.Total), Kib(row.SlotSize),
                Number(row.Slabs), Kib(row.MemoryBytes), Markup.Escape(row.Name));
        }

        return table;
    }

    private static Rows FreeBlocks(IReadOnlyList<PagesView> allocators)
    {
        PagesView largest = allocators.MaxBy(static p => p.OsBytes + (p.FreePages * 4096))!;
        var chart = new BarChart().Label($"free blocks per order (buddyinfo), {largest.Label}").Width(72);
        for (int order = 0; order < largest.FreeBlocks.Count; order++)
        {
            chart.AddItem($"order {order,2}", largest.FreeBlocks[order], Color.Green);
        }

        var frag = new Table().Border(TableBorder.Simple).AddColumn(new TableColumn("order"));
        for (int order = 0; order < largest.FreeBlocks.Count; order++)
        {
            frag.AddColumn(new TableColumn(order.ToString(CultureInfo.InvariantCulture)).RightAligned());
        }

        foreach (PagesView pages in allocators)
        {
            var indices = new List<string> { allocators.Count == 1 ? "frag index" : $"frag index {pages.Label}" };
            indices.AddRange(pages.FragmentationIndex.Select(static i => i.ToString("0.000", CultureInfo.InvariantCulture)));
            frag.AddRow([.. indices]);
        }

        return new Rows(chart, frag);
    }

    private static string Number(long value) => value.ToString(CultureInfo.InvariantCulture);

    private static string Percent(long part, long whole) => whole == 0 ? "0.0%" : (100.0 * part / whole).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string Kib(long bytes) => (bytes / 1024.0).ToString("0.00", CultureInfo.InvariantCulture) + "K";
}
