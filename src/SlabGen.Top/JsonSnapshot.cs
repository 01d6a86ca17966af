// --json: one snapshot as a JSON document, for scripts and tests.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SlabGen.Top;

/// <summary>
/// The JSON form of a snapshot: the target, the caches in the chosen order, the shared page allocator (<c>pages</c>),
/// every page allocator with its name (<c>pageAllocators</c>, the shared one first), vmalloc and the sampling pool
/// (<c>sampling</c>: all zero when the process does not sample).
/// </summary>
internal sealed record JsonSnapshot(int ProcessId, string ProcessName, DateTimeOffset Time, IReadOnlyList<CacheRow> Caches, JsonPages Pages,
    IReadOnlyList<JsonPages> PageAllocators, VmallocView Vmalloc, SamplingView Sampling)
{
    public static string Write(TargetProcess target, Snapshot snapshot, SortKey sort) =>
        JsonSerializer.Serialize(new JsonSnapshot(target.Id, target.Name, snapshot.Time, [.. SortKeys.Order(snapshot.Caches, sort)],
            JsonPages.Of(snapshot.Pages), [.. snapshot.PageAllocators.Select(JsonPages.Of)], snapshot.Vmalloc, snapshot.Sampling), SnapshotJsonContext.Default.JsonSnapshot);
}

/// <summary>A page allocator in JSON: its name and id, free blocks and fragmentation index per order, index = order.</summary>
internal sealed record JsonPages(string Name, int Id, long Arenas, long OsBytes, long PerThreadPages, long FreePages, IReadOnlyList<long> FreeBlocks, IReadOnlyList<double> FragmentationIndex)
{
    public static JsonPages Of(PagesView pages) =>
        new(pages.Name, pages.Id, pages.Arenas, pages.OsBytes, pages.PerThreadPages, pages.FreePages, pages.FreeBlocks, pages.FragmentationIndex);
}

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(JsonSnapshot))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext;
