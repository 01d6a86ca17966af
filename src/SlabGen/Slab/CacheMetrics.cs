// The slab layer's instruments on the SlabGen meter (Diagnostics/SlabGenMetrics.cs): per cache, what slabinfo prints.
// Registered once, when the first cache is registered (CacheRegistry); read under each cache's lock only when a
// listener collects.
using System.Diagnostics.Metrics;

namespace SlabGen;

internal static class CacheMetrics
{
    private static readonly bool s_registered = Register();

    /// <summary>Adds the cache instruments to the meter, once.</summary>
    public static void EnsureRegistered() => _ = s_registered;

    private static bool Register()
    {
        SlabGenMetrics.Observe(Contract.CacheObjectsLive, () => PerCache(static e => e.LiveObjects),
            "{object}", "Objects allocated and not yet freed: what to watch for leaks.");
        SlabGenMetrics.Observe(Contract.CacheObjectsActive, () => PerCache(static e => e.ActiveObjects),
            "{object}", "Objects allocated or parked in threads' array caches and the depot (slabinfo's active_objs).");
        SlabGenMetrics.Observe(Contract.CacheObjectsTotal, () => PerCache(static e => e.TotalObjects),
            "{object}", "Objects of all slabs of the cache (slabinfo's num_objs).");
        SlabGenMetrics.Observe(Contract.CacheObjectsCached, () => PerCache(static e => e.ActiveObjects - e.LiveObjects),
            "{object}", "Free objects parked in threads' array caches and the depot: active but not live.");
        SlabGenMetrics.Observe(Contract.CacheSlotSize, () => PerCache(static e => e.SlotSize),
            "By", "Bytes per object slot, padding and debug metadata included (slabinfo's objsize).");
        SlabGenMetrics.Observe(Contract.CacheSlabs, () => PerCache(static e => e.Slabs),
            "{slab}", "Slabs of the cache (slabinfo's num_slabs).");
        SlabGenMetrics.Observe(Contract.CacheSize, () => PerCache(static e => e.Slabs * e.PagesPerSlab * PageAllocator.PageSize),
            "By", "Bytes of pages the cache's slabs hold.");
        SlabGenMetrics.Observe(Contract.CacheObjectsReserved, () => PerCache(static e => e.ReservedObjects),
            "{object}", "Objects the cache keeps slabs for (KmemCache.Reserve): Atomic allocations up to that many live objects need no new memory.");
        return true;
    }

    /// <summary>
    /// A measurement per live cache that has held a slab or a reserve since it was made: a cache never used (most of a
    /// kmalloc allocator's 41 classes) has nothing but zeros to say, and stays out until it is used; once in, it stays
    /// until destroyed, so a series never stops while the cache lives.
    /// </summary>
    private static IEnumerable<Measurement<long>> PerCache(Func<SlabInfoEntry, long> value)
    {
        foreach (KmemCache cache in CacheRegistry.All())
        {
            SlabInfoEntry? entry = cache.SlabInfoEntry();
            if (entry is null)
            {
                continue;
            }

            if (!cache.ShownInMetrics)
            {
                if (entry.Slabs == 0 && entry.ReservedObjects == 0)
                {
                    continue;
                }

                cache.ShownInMetrics = true;
            }

            yield return new Measurement<long>(value(entry), new KeyValuePair<string, object?>(SlabGenMetrics.CacheTag, entry.Name));
        }
    }
}
