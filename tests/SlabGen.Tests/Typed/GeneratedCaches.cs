namespace SlabGen.Tests.Typed;

/// <summary>
/// The test classes that share the [SlabCache] structs of this project run one after another: several assert on
/// a cache's object counts, which another class's threads would move.
/// </summary>
internal static class GeneratedCaches
{
    public const string Collection = "Generated caches";
}
