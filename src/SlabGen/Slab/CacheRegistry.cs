namespace SlabGen;

/// <summary>Every live cache of the process: by id, for a page frame's SlabCacheId, and in creation order, for slabinfo.</summary>
internal static class CacheRegistry
{
    private static readonly Lock s_lock = new();
    private static readonly List<KmemCache> s_all = [];
    private static KmemCache?[] s_byId = new KmemCache?[16];

    public static void Add(KmemCache cache, int id)
    {
        CacheMetrics.EnsureRegistered();
        lock (s_lock)
        {
            if (id >= s_byId.Length)
            {
                KmemCache?[] grown = new KmemCache?[Math.Max(id + 1, s_byId.Length * 2)];
                s_byId.CopyTo(grown, 0);
                Volatile.Write(ref s_byId, grown);
            }

            s_byId[id] = cache;
            s_all.Add(cache);
        }
    }

    public static void Remove(KmemCache cache, int id)
    {
        lock (s_lock)
        {
            s_byId[id] = null;
            s_all.Remove(cache);
        }
    }

    public static KmemCache? Find(int id)
    {
        KmemCache?[] byId = Volatile.Read(ref s_byId);
        return (uint)id < (uint)byId.Length ? byId[id] : null;
    }

    public static KmemCache[] All()
    {
        lock (s_lock)
        {
            return [.. s_all];
        }
    }
}
