// Who may end a cache's life. An ordinary cache ends with Destroy or Dispose. The cache of a [SlabCache] type
// and a size cache of the shared kmalloc set live as long as the process: a thread static of the generated type, or kmalloc's
// per-thread table, points into their per-thread blocks without a cookie check, so they must never be destroyed.
namespace SlabGen;

/// <summary>How long a <see cref="KmemCache"/> lives, and what that means for its empty slabs.</summary>
internal enum CacheLifetime : byte
{
    /// <summary>Made by <c>KmemCache.Create</c>: <see cref="KmemCache.Destroy"/> and Dispose end it.</summary>
    Ordinary,

    /// <summary>The cache of a [SlabCache] struct: lives as long as the process.</summary>
    TypeCache,

    /// <summary>The cache of a checked [SlabCache] struct: as <see cref="TypeCache"/>, and it keeps its empty slabs, whose objects' generation words stale handles still read.</summary>
    CheckedTypeCache,

    /// <summary>A size cache of the shared kmalloc set (<c>Kmem.Kmalloc</c>): lives as long as the process.</summary>
    SharedKmallocCache,
}
