namespace SlabGen;

/// <summary>Settings of a <see cref="PageAllocator"/>.</summary>
public sealed class PageAllocatorOptions
{
    /// <summary>
    /// The most memory the allocator takes from the OS, in bytes; <see langword="null"/> for no limit.
    /// Memory is taken in whole 4 MiB arenas, so the effective cap is rounded down to a multiple of 4 MiB.
    /// When the cap is reached, allocations return <see langword="null"/>.
    /// </summary>
    public long? MaxBytes { get; init; }

    /// <summary>
    /// How many freed order-0 pages each thread keeps for its next allocations without taking the zone
    /// lock (the kernel's per-cpu pages, <c>pcp->high</c>). 0 turns the per-thread lists off. Default 64.
    /// </summary>
    public int PerThreadPages { get; init; } = PerThreadPageList.DefaultHigh;
}
