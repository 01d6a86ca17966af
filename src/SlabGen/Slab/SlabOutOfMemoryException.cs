// The typed API's out-of-memory error. A subclass, because the runtime prints an unhandled OutOfMemoryException as
// "Out of memory." alone (it assumes nothing can be allocated); a derived type is printed with its message and stack,
// so the cache, the flags and the cap reach the user.
namespace SlabGen;

/// <summary>
/// A typed slab allocation (a generated <c>Alloc</c>/<c>New</c>) found no memory under its flags. Catch it as
/// <see cref="OutOfMemoryException"/>, or call <c>TryAlloc</c>/<c>TryNew</c>, which return false instead.
/// </summary>
public sealed class SlabOutOfMemoryException : OutOfMemoryException
{
    /// <summary>Creates the exception for <paramref name="cacheName"/>.</summary>
    /// <param name="cacheName">The cache that could not allocate.</param>
    /// <param name="typeName">The type of its objects.</param>
    /// <param name="flags">The flags of the failed allocation.</param>
    /// <param name="maxBytes">The cap of the cache's page allocator, or null for none.</param>
    public SlabOutOfMemoryException(string cacheName, string typeName, GfpFlags flags, long? maxBytes)
        : base(Describe(cacheName, typeName, flags, maxBytes))
    {
        CacheName = cacheName;
        Flags = flags;
        MaxBytes = maxBytes;
    }

    /// <summary>The cache that could not allocate.</summary>
    public string CacheName { get; }

    /// <summary>The flags of the failed allocation.</summary>
    public GfpFlags Flags { get; }

    /// <summary>The cap (<see cref="PageAllocatorOptions.MaxBytes"/>) of the cache's page allocator, or null for none.</summary>
    public long? MaxBytes { get; }

    private static string Describe(string cacheName, string typeName, GfpFlags flags, long? maxBytes)
    {
        string why = !Gfp.MaySleep(flags)
            ? "GfpFlags.Atomic never takes memory from the OS, and the allocator holds no free memory for this cache: reserve some before the frame (KmemCache.Reserve, PageAllocator.Reserve), or allocate with flags that may sleep"
            : maxBytes is long cap
                ? $"the page allocator is at its MaxBytes cap of {cap:N0} bytes after draining every thread's caches"
                : "the operating system refused more memory";
        return $"Slab cache '{cacheName}' could not allocate one {typeName} under GfpFlags.{flags.ToString().Replace(", ", " | GfpFlags.", StringComparison.Ordinal)}: {why}.";
    }
}
