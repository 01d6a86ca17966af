namespace SlabGen.Tests.PerThread;

/// <summary>
/// Tests that force garbage collections (thread-exit reaping, memory-pressure trims) run alone: the collections
/// trim <see cref="PageAllocator.Shared"/>, which other tests' exact counts of parked objects must not see happen.
/// </summary>
[CollectionDefinition(Collection, DisableParallelization = true)]
public sealed class Collections
{
    public const string Collection = "Collections and trims";
}
