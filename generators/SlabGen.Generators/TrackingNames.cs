// The names of the generator's pipeline steps, so the caching test can find each one.
namespace SlabGen.Generators;

internal static class TrackingNames
{
    /// <summary>Each [SlabCache] struct parsed to a model, or null when it is misused (the analyzer explains).</summary>
    public const string Parse = "SlabCache.Parse";

    /// <summary>The models of well-formed structs only.</summary>
    public const string Models = "SlabCache.Models";

    /// <summary>Every step whose output the caching test checks.</summary>
    public static readonly string[] All = [Parse, Models];
}
