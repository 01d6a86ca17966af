// What the page allocator knows of the layers above it, and nothing more: the kernel's shrinker (struct shrinker in
// include/linux/shrinker.h, registered with register_shrinker). Whatever keeps pages of an allocator parked (a slab
// cache's array caches, depot and empty slabs) registers here; before an allocation fails, on a memory-pressure trim
// and on Reserve the allocator asks every registered shrinker to give back what it parks, then retries. Dispose names
// the shrinkers still registered in its leak report.
namespace SlabGen;

/// <summary>Something that parks pages of a <see cref="PageAllocator"/> and can give them back on request.</summary>
internal interface IShrinker
{
    /// <summary>The name a leak report shows.</summary>
    string Name { get; }

    /// <summary>
    /// Gives back what the chosen threads park and whatever the shrinker holds free. Called without any of the page
    /// allocator's locks held, on any thread.
    /// </summary>
    /// <param name="scope">Which threads' parked objects to take back (an Atomic caller never waits for other threads).</param>
    /// <returns>The bytes released.</returns>
    long Reclaim(DrainScope scope);
}
