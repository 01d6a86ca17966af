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
    /// What the allocator is for ("particles", "level-3"): its name in the SlabGen meter (<c>slabgen.pages.name</c>),
    /// slabtop and <see cref="PageAllocator.ToString"/>. <see langword="null"/> or empty for <c>pages</c>
    /// (<see cref="PageAllocator.Shared"/> is <c>shared</c>).
    /// </summary>
    public string? Name { get; init; }

    /// <summary>
    /// How many pages of freed small blocks (orders 0..5) each thread keeps for its next allocations without
    /// taking the zone lock (the kernel's per-cpu pages, <c>pcp->high</c>). An order is kept only if half the
    /// limit holds one of its blocks. 0 turns the per-thread lists off. Default 64 (256 KiB per thread).
    /// </summary>
    public int PerThreadPages { get; init; } = PerThreadPageList.DefaultHigh;

    /// <summary>
    /// Whether the allocator trims itself when the GC reports memory pressure, as <c>ArrayPool&lt;T&gt;.Shared</c> does:
    /// after every gen-2 collection, per-thread lists and array caches that sat idle since the last trim are drained,
    /// the depots are emptied, empty slabs of the caches on this allocator are released and fully free arenas go back
    /// to the OS; when the memory load is high, live threads' per-thread state is drained too. The work runs on the
    /// finalizer thread, never on an allocation path. <see cref="PageAllocator.Shared"/> turns it on; for other
    /// allocators the default is off.
    /// </summary>
    public bool TrimOnMemoryPressure { get; init; }
}
