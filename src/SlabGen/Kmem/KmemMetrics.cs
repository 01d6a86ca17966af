// The kmalloc layer's instruments on the SlabGen meter (Diagnostics/SlabGenMetrics.cs): the capped SlabMemoryPools'
// capacity per owner and the live vmalloc areas. Registered once, by the first SlabMemoryPool or vmalloc.
using System.Collections.Concurrent;
using System.Diagnostics.Metrics;

namespace SlabGen;

internal static class KmemMetrics
{
    private static readonly ConcurrentDictionary<SlabMemoryPool, byte> s_pools = new();

    private static readonly bool s_registered = Register();

    /// <summary>Adds the kmalloc-layer instruments to the meter, once.</summary>
    public static void EnsureRegistered() => _ = s_registered;

    /// <summary>Adds a pool to <c>slabgen.memory_pool.capacity</c> (a pool nothing caps is left out).</summary>
    public static void AddPool(SlabMemoryPool pool)
    {
        if (pool.CapacityBytes is not null)
        {
            s_pools.TryAdd(pool, 0);
        }
    }

    /// <summary>Takes a disposed pool out of <c>slabgen.memory_pool.capacity</c>.</summary>
    public static void RemovePool(SlabMemoryPool pool) => s_pools.TryRemove(pool, out _);

    private static bool Register()
    {
        SlabGenMetrics.Observe(Contract.MemoryPoolCapacity, PoolCapacities,
            "By", "Bytes the live capped SlabMemoryPools can hand out at most, summed per owner (a pinned pool's budget rounded to whole 4 MiB sections).");
        SlabGenMetrics.Observe(Contract.VmallocAreas, static () => Kmem.VmallocTotals().Areas,
            "{area}", "Live vmalloc areas (/proc/vmallocinfo's lines).");
        SlabGenMetrics.Observe(Contract.VmallocSize, static () => Kmem.VmallocTotals().Bytes,
            "By", "Bytes of the live vmalloc areas, taken from the OS outside the page allocator.");
        return true;
    }

    private static IEnumerable<Measurement<long>> PoolCapacities() =>
        s_pools.Keys.GroupBy(static pool => pool.Owner).Select(static owner => new Measurement<long>(
            owner.Sum(static pool => pool.CapacityBytes ?? 0), new KeyValuePair<string, object?>(Contract.MemoryPoolOwnerTag, owner.Key)));
}
