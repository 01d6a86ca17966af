// --json: one snapshot as a JSON document, for scripts and tests.
using System.Text.Json;
using System.Text.Json.Serialization;

namespace SlabGen.Top;

/// <summary>The JSON form of a snapshot: the target, the caches in the chosen order, the pages and vmalloc.</summary>
internal sealed record JsonSnapshot(int ProcessId, string ProcessName, DateTimeOffset Time, IReadOnlyList<CacheRow> Caches, JsonPages Pages, VmallocView Vmalloc)
{
    public static string Write(TargetProcess target, Snapshot snapshot, SortKey sort) =>
        JsonSerializer.Serialize(new JsonSnapshot(target.Id, target.Name, snapshot.Time, [.. SortKeys.Order(snapshot.Caches, sort)],
            new JsonPages(snapshot.Pages.Arenas, snapshot.Pages.OsBytes, snapshot.Pages.PerThreadPages, snapshot.Pages.FreePages,
                snapshot.Pages.FreeBlocks, snapshot.Pages.FragmentationIndex), snapshot.Vmalloc), SnapshotJsonContext.Default.JsonSnapshot);
}

/// <summary>The page allocator in JSON: free blocks and fragmentation index per order, index = order.</summary>
internal sealed record JsonPages(long Arenas, long OsBytes, long PerThreadPages, long FreePages, IReadOnlyList<long> FreeBlocks, IReadOnlyList<double> FragmentationIndex);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(JsonSnapshot))]
internal sealed partial class SnapshotJsonContext : JsonSerializerContext;
