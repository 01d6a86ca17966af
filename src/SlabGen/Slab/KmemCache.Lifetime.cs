// What a cache counts and how it gives memory back or ends: the object and slab counts, the slabinfo row, Shrink,
// Reclaim (the page allocator's shrinker call, Pages/IShrinker.cs) and Destroy. Destroy shuts the threads' blocks
// for good and frees every slab under the cache lock; a cache with live objects is left as it is and reported.

namespace SlabGen;

public sealed unsafe partial class KmemCache
{
    /// <summary>
    /// Objects not on a slab's freelist: allocated by callers, or parked in threads' array caches and the depot
    /// (slabinfo's active_objs, as the kernel counts it). For leaks, watch <see cref="LiveObjects"/>.
    /// </summary>
    public long ActiveObjects => Volatile.Read(ref _node.ActiveObjects);

    /// <summary>
    /// Objects allocated and not yet freed: <see cref="ActiveObjects"/> without those parked in threads' array
    /// caches and the depot. Exact whenever no allocation or free of the cache is in flight; what to watch for leaks.
    /// </summary>
    public long LiveObjects => Math.Max(0, _arrayCaches.ReadQuiescent(() => ActiveObjects - CachedObjects));

    /// <summary>Objects parked in threads' array caches and the depot: free, but not on a slab's freelist.</summary>
    public long CachedObjects
    {
        get
        {
            long cached = _depot.Objects;
            foreach (ArrayCache cache in _arrayCaches.Snapshot())
            {
                cached += cache.Cached;
            }

            return cached;
        }
    }

    /// <summary>Objects in the depot's full magazines now (slabinfo's sharedavail).</summary>
    internal long DepotObjects => _depot.Objects;

    /// <summary>The objects of all slabs of the cache (slabinfo's num_objs).</summary>
    public long TotalObjects => SlabCount * ObjectsPerSlab;

    /// <summary>How many slabs the cache holds.</summary>
    public long SlabCount
    {
        get
        {
            lock (_node.Lock)
            {
                return _node.Slabs;
            }
        }
    }

    /// <summary>
    /// Returns every thread's cached objects (live threads' too) and the depot's to their slabs, then gives every
    /// empty slab back to the page allocator (<c>kmem_cache_shrink</c>). Any thread may call it.
    /// </summary>
    /// <returns>The bytes given back to the page allocator.</returns>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    public long Shrink()
    {
        ObjectDisposedException.ThrowIf(_id < 0, this);
        return Reclaim(DrainScope.All);
    }

    /// <summary>
    /// Destroys the cache (<c>kmem_cache_destroy</c>): every slab goes back to the page allocator and the
    /// cache leaves slabinfo. Objects cached by threads count as free. Destroying twice does nothing.
    /// </summary>
    /// <exception cref="InvalidOperationException">
    /// Objects are still allocated: the message says how many, and where they were allocated under
    /// <see cref="SlabFlags.StoreUser"/>. The cache stays usable; free them and destroy again. Or the cache is
    /// the cache of a <see cref="SlabCacheAttribute"/> struct or a kmalloc size cache, which live as long as the process.
    /// </exception>
    public void Destroy()
    {
        if (_lifetime != CacheLifetime.Ordinary)
        {
            string owner = _lifetime == CacheLifetime.SharedKmallocCache ? "is a kmalloc size cache" : "belongs to a [SlabCache] struct";
            throw new InvalidOperationException($"Cache '{Name}' {owner} and lives as long as the process; Shrink() gives its free slabs back.");
        }

        string? leak = TryDestroy();
        if (leak is not null)
        {
            throw new InvalidOperationException(leak);
        }
    }

    /// <summary>Destroys the cache unless objects are still allocated; returns the leak report then, else null.</summary>
    private string? TryDestroy()
    {
        if (_id < 0)
        {
            return null;
        }

        _arrayCaches.Drain(DrainScope.All);
        DrainDepot();
        int id;
        lock (_node.Lock)
        {
            id = _id;
            if (id < 0)
            {
                return null;
            }

            if (_node.ActiveObjects > 0)
            {
                return LeakReport(_node.ActiveObjects);
            }

            if (_node.Pins > 0)
            {
                return $"Cache '{Name}' cannot be destroyed while {_node.Pins} enumeration(s) or reset(s) of it run; dispose the enumerator first.";
            }

            _id = -1;
        }

        // Anything a racing free parked after the drain comes back here; the blocks stay shut for good.
        _arrayCaches.Close();
        DrainDepot();
        _depot.FreeEmpties();
        lock (_node.Lock)
        {
            ReleaseAll(ref _node.Empty);
            ReleaseAll(ref _node.Partial);
            ReleaseAll(ref _node.Full);
            _node.ActiveObjects = 0;
            FreeSlabLists();
        }

        _pages.UnregisterShrinker(this);
        CacheRegistry.Remove(this, id);
        OwnerIds.Return(id);
        return null;
    }

    /// <summary>This cache's slabinfo row, after reaping exited threads; null once destroyed.</summary>
    internal SlabInfoEntry? SlabInfoEntry()
    {
        _arrayCaches.Drain(DrainScope.Exited);
        long live = LiveObjects;
        lock (_node.Lock)
        {
            if (_id < 0)
            {
                return null;
            }

            long slabs = _node.Slabs;
            return new SlabInfoEntry(Name, _node.ActiveObjects, slabs * ObjectsPerSlab, (long)_layout.Stride, ObjectsPerSlab,
                1 << SlabOrder, Limit, BatchCount, _debug ? 0 : MagazineDepot.Capacity, _node.SlabsInUse, slabs,
                _depot.Objects)
            {
                LiveObjects = live,
                Flags = Flags,
                ReservedObjects = _node.ReservedSlabs * ObjectsPerSlab,
            };
        }
    }

    // The page allocator's shrinker call (Pages/IShrinker.cs): Reclaim below.
    long IShrinker.Reclaim(DrainScope scope) => Reclaim(scope);

    /// <summary>
    /// Takes back what the chosen threads' array caches hold and everything in the depot, then releases every
    /// empty slab (a cache with checked handles keeps its slabs). Returns the bytes released. Used by
    /// <see cref="Shrink"/>, by the page allocator before it reports a failure, and by memory-pressure trims.
    /// </summary>
    internal long Reclaim(DrainScope scope)
    {
        if (_id < 0)
        {
            return 0;
        }

        _arrayCaches.Drain(scope);
        DrainDepot();
        _depot.FreeEmpties();
        lock (_node.Lock)
        {
            long released = 0;
            while (_id >= 0 && _node.Empty.First != null && MayReleaseSlab)
            {
                PageFrame* slab = _node.Empty.First;
                _node.Empty.Remove(slab);
                ReleaseSlab(slab);
                released += (long)_layout.SlabBytes;
            }

            return released;
        }
    }
}
