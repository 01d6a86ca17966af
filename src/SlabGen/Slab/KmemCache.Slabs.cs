// The slab lists and the slow paths: an array cache's misses (magazine exchanges with the depot, batches from
// slabs), growing the cache by a slab, draining threads' caches, shrinking and destroying.
//
// A slab is on exactly one list, chosen by its in-use count: empty (0), full (ObjectsPerSlab), else partial.
// Allocation prefers partial slabs, so empty ones stay empty and can go back to the page allocator.
// Lock order: the cache lock, then the page allocator's zone lock (slabs are freed under the cache lock). No lock
// is held while an array cache is entered or drained (PerThread/), while the page allocator is asked for a new
// slab, or while constructors run.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

public sealed unsafe partial class KmemCache
{
    /// <summary>Empty slabs kept for the next allocations; more go back to the page allocator at once.</summary>
    private const int EmptySlabReserve = 2;

    private readonly PerThreadRegistry<ArrayCache> _arrayCaches = new();
    private readonly MagazineDepot _depot;

    /// <summary>The slab lists, their lock and the active count (SlabLists.cs, the kernel's kmem_cache_node).</summary>
    private SlabLists _node;

    /// <summary>The last freelist corruption TakeObjects found, for a debug allocation to throw; guarded by the cache lock.</summary>
    private string? _freelistCorruption;
    private uint _nextColour;

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
            string owner = _lifetime == CacheLifetime.KmallocCache ? "is a kmalloc size cache" : "belongs to a [SlabCache] struct";
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

    /// <summary>Returns objects a drain took from a thread's magazines (or a magazine's) to their slabs.</summary>
    internal void ReturnObjects(ReadOnlySpan<nint> objects)
    {
        lock (_node.Lock)
        {
            ReturnObjectsLocked(objects);
        }
    }

    /// <summary>An allocation that found the thread's stack empty: a full magazine from the depot, else a batch from the slabs, else a new slab.</summary>
    private void* AllocFromArrayCache(GfpFlags flags)
    {
        ArrayCache cache = GetArrayCache();
        cache.SlowPaths++;
        bool retried = false;
        while (true)
        {
            EnterOrThrow(cache);
            void* obj = cache.Pop();
            nint* full = obj == null ? _depot.TakeFull() : null;
            bool loaded = full != null && cache.LoadFull(full, out obj);
            cache.Exit();
            if (full != null)
            {
                if (loaded)
                {
                    _depot.PutEmpty(full);
                }
                else if (!_depot.PutFull(full))
                {
                    ReturnMagazine(full, _depot.MagazineSize);
                }
            }

            if (obj != null || TryRefillFromSlabs(cache, out obj))
            {
                return obj;
            }

            // Grow fails only after the page allocator has drained every thread and cache on it (Reclaim), which
            // may have put objects of this cache back on its slabs: look there once more before failing.
            if (!Grow(flags))
            {
                if (retried)
                {
                    return null;
                }

                retried = true;
            }
        }
    }

    private bool TryRefillFromSlabs(ArrayCache cache, out void* obj)
    {
        Span<nint> batch = stackalloc nint[BatchCount];
        int taken;
        lock (_node.Lock)
        {
            taken = TakeObjects(batch);
        }

        obj = null;
        if (taken == 0)
        {
            return false;
        }

        if (!cache.Enter())
        {
            ReturnObjects(batch[..taken]);
            ObjectDisposedException.ThrowIf(true, this);
        }

        int left = cache.FillAndPop(batch[..taken], out obj);
        cache.Exit();
        if (left != 0)
        {
            ReturnObjects(batch[..left]);
        }

        return true;
    }

    /// <summary>A free that found the thread's stack full: its upper half goes to the depot as one magazine.</summary>
    private void FreeToArrayCache(void* obj)
    {
        ArrayCache cache = GetArrayCache();
        cache.SlowPaths++;
        EnterOrThrow(cache);
        bool pushed = cache.Push(obj);
        cache.Exit();
        if (pushed)
        {
            return;
        }

        nint* empty = _depot.TakeEmpty();
        if (!cache.Enter())
        {
            _depot.PutEmpty(empty);
            ObjectDisposedException.ThrowIf(true, this);
        }

        int count = cache.UnloadAndPush(empty, obj);
        cache.Exit();
        if (count == 0)
        {
            _depot.PutEmpty(empty);
        }
        else if (!_depot.PutFull(empty))
        {
            // The depot is full: this magazine's objects go back to their slabs.
            ReturnMagazine(empty, count);
        }
    }

    private void EnterOrThrow(ArrayCache cache)
    {
        if (!cache.Enter())
        {
            ObjectDisposedException.ThrowIf(true, this);
        }
    }

    /// <summary>Returns a magazine's objects to their slabs and keeps it as an empty one.</summary>
    private void ReturnMagazine(nint* magazine, int count)
    {
        ReturnObjects(new ReadOnlySpan<nint>(magazine, count));
        _depot.PutEmpty(magazine);
    }

    /// <summary>
    /// The calling thread's handle on this cache for hot loops: <see cref="KmemCacheThreadCache.Alloc"/> and
    /// <see cref="KmemCacheThreadCache.Free"/> behave as <see cref="Alloc"/> and <see cref="Free"/> without the per-call
    /// thread-local read and slot lookup. Take it once per method (or frame) that loops; it stays on this thread.
    /// </summary>
    /// <returns>The handle.</returns>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    public KmemCacheThreadCache ThisThread()
    {
        ObjectDisposedException.ThrowIf(_id < 0, this);
        return new KmemCacheThreadCache(_debug ? ArrayCache.Shut(this) : GetArrayCache());
    }

    /// <summary>The calling thread's array cache, made and registered on first use.</summary>
    private ArrayCache GetArrayCache()
    {
        if (ThreadSlots.Owner(_id) is ArrayCache existing && existing.Cache == this)
        {
            return existing;
        }

        ObjectDisposedException.ThrowIf(_id < 0, this);
        var cache = new ArrayCache(this, _cookie);
        if (!_arrayCaches.Add(cache))
        {
            ObjectDisposedException.ThrowIf(true, this);
        }

        ThreadSlots.Set(_id, cache, cache.Block);
        return cache;
    }

    /// <summary>Takes free objects off the slabs, partial slabs first. Under the cache lock.</summary>
    private int TakeObjects(Span<nint> into)
    {
        int taken = 0;
        while (taken < into.Length)
        {
            PageFrame* slab = _node.NextToTakeFrom;
            if (slab == null)
            {
                break;
            }

            int inUse = SlabPage.Of(slab)->InUse;
            byte* obj = SlabPage.Of(slab)->Freelist;
            while (taken < into.Length && obj != null)
            {
                into[taken++] = (nint)obj;
                byte* next = NextFree(obj);
                if (next != null && (next == (byte*)FreeWord.CorruptPointer || !IsObjectOf(slab, next)))
                {
                    // Never followed: the rest of the list is dropped, and the slab counts as full until its live
                    // objects come back (then it holds those only, so it is never released: a leak, not a corruption).
                    ReportFreelistCorruption(obj, next);
                    next = null;
                    inUse = _layout.ObjectsPerSlab - 1;
                }

                if (ArrayCache.FreeChecks)
                {
                    MarkCached(obj); // on its way to a thread's stack: the free word says "cached"
                }
                else
                {
                    ClearFreeWord(obj); // nothing clears it on allocation: off its slab, it must not say "free" (KmemCache.Live.cs)
                }

                obj = next;
                inUse++;
            }

            SlabPage.Of(slab)->Freelist = obj;
            _node.Relist(slab, inUse);
        }

        _node.ActiveObjects += taken;
        return taken;
    }

    /// <summary>Puts an object back on its slab's freelist; frees the slab past the empty reserve. Under the cache lock.</summary>
    private void PutObject(PageFrame* slab, byte* obj)
    {
        SetNextFree(obj, SlabPage.Of(slab)->Freelist, slab->Address);
        SlabPage.Of(slab)->Freelist = obj;
        _node.Relist(slab, SlabPage.Of(slab)->InUse - 1);
        _node.ActiveObjects--;
        if (SlabPage.Of(slab)->InUse == 0 && _node.Empty.Count > EmptySlabReserve && MayReleaseSlab)
        {
            _node.Empty.Remove(slab);
            ReleaseSlab(slab);
        }
    }

    private void ReturnObjectsLocked(ReadOnlySpan<nint> objects)
    {
        foreach (nint entry in objects)
        {
            var obj = (byte*)entry;
            PutObject(PageAllocator.HeadFrameOf(obj), obj);
        }
    }

    /// <summary>Returns every object of the depot's full magazines to their slabs, keeping the magazines as empties.</summary>
    private void DrainDepot()
    {
        _arrayCaches.BeginDrain();
        nint* magazine;
        while ((magazine = _depot.TakeFull()) != null)
        {
            ReturnMagazine(magazine, _depot.MagazineSize);
        }

        _arrayCaches.EndDrain();
    }


    /// <summary>Adds one slab (new_slab): pages from the allocator, the next colour, objects initialised and linked.</summary>
    private bool Grow(GfpFlags flags)
    {
        // A new slab is a slow path of the whole cache: threads that have exited give their magazines back first.
        _arrayCaches.Drain(DrainScope.Exited);
        void* memory = _pages.AllocPages(_layout.Order, flags & (GfpFlags.Kernel | GfpFlags.Atomic | GfpFlags.NoWarn));
        if (memory == null)
        {
            return false;
        }

        PageFrame* slab = PageAllocator.HeadFrameOf(memory);
        // The first object's offset: the colour, plus the left red zone of its slot.
        int colour = (int)((Interlocked.Increment(ref _nextColour) - 1) % (uint)_layout.Colours * _layout.ColourStep + _layout.LeftZone);
        byte* first = (byte*)memory + colour;
        int objects = _layout.ObjectsPerSlab;
        try
        {
            for (int i = 0; i < objects; i++)
            {
                byte* obj = first + ((nuint)i * _layout.Stride);
                InitObject(obj);
                SetNextFree(obj, i + 1 < objects ? obj + _layout.Stride : null, (byte*)memory);
            }
        }
        catch
        {
            // A constructor threw: the half-built slab was never published, its pages go straight back.
            _pages.FreePages(memory, _layout.Order);
            throw;
        }

        SlabPage.Of(slab)->Freelist = first;
        SlabPage.Of(slab)->InUse = 0;
        SlabPage.Of(slab)->CacheId = _id;
        PageAllocator.SetOwner(slab, SlabPage.OwnerTag, &SlabPage.Describe);
        StampPages(slab, _cookie, _slabClass, colour);
        lock (_node.Lock)
        {
            if (_id < 0)
            {
                ReleaseSlab(slab);
                ObjectDisposedException.ThrowIf(true, this);
            }

            _node.Empty.Add(slab);
        }

        return true;
    }

    /// <summary>Gives every slab of a list back to the page allocator. Under the cache lock.</summary>
    private void ReleaseAll(ref PageFrameList list)
    {
        while (list.First != null)
        {
            PageFrame* slab = list.First;
            list.Remove(slab);
            ReleaseSlab(slab);
        }
    }

    private void ReleaseSlab(PageFrame* slab)
    {
        PageAllocator.SetOwner(slab, 0);
        SlabPage.Of(slab)->CacheId = 0;
        StampPages(slab, 0, 0, 0);
        SlabPage.Of(slab)->Freelist = null;
        SlabPage.Of(slab)->InUse = 0;
        _pages.FreePagesToZone(slab->Address, _layout.Order);
    }

    /// <summary>Writes the owner's cookie, kmalloc class and the slab's colour into every page of a slab (0s when it is released).</summary>
    private void StampPages(PageFrame* slab, long cookie, byte slabClass, int colour)
    {
        for (nuint i = 0; i < (nuint)1 << _layout.Order; i++)
        {
            SlabPage* page = SlabPage.Of(slab + i);
            page->Cookie = cookie;
            page->KmallocClass = slabClass;
            page->Colour = colour;
        }
    }

    // The free word's states and encoding: FreeWord.cs.

    /// <summary>The object after <paramref name="obj"/> on its slab's freelist: null at the end, FreeWord.CorruptPointer for a bad word.</summary>
    private byte* NextFree(byte* obj) => FreeWord.Next(obj, (nint)_layout.FreePointerOffset, _freeTag, _layout.SlabMask);

    private void SetNextFree(byte* obj, byte* next, byte* slabBase) => FreeWord.SetNext(obj, (nint)_layout.FreePointerOffset, _freeTag, next, slabBase);

    /// <summary>Whether <paramref name="obj"/> is on the freelist of <paramref name="slab"/>: a walk that follows only valid pointers, at most a slab's worth. Under the cache lock.</summary>
    private bool OnFreelist(PageFrame* slab, byte* obj)
    {
        byte* free = SlabPage.Of(slab)->Freelist;
        for (int steps = 0; steps < _layout.ObjectsPerSlab && free != null && IsObjectOf(slab, free); steps++)
        {
            if (free == obj)
            {
                return true;
            }

            free = NextFree(free);
        }

        return false;
    }

    /// <summary>Whether <paramref name="p"/> is the start of an object of <paramref name="slab"/> (its head frame).</summary>
    private bool IsObjectOf(PageFrame* slab, byte* p)
    {
        nint offset = (nint)(p - slab->Address - SlabPage.Of(slab)->Colour);
        return offset >= 0 && (nuint)offset % _layout.Stride == 0 && (nuint)offset / _layout.Stride < (nuint)_layout.ObjectsPerSlab;
    }

    /// <summary>Reports a free pointer that does not lead to an object of its slab. Under the cache lock.</summary>
    private void ReportFreelistCorruption(byte* obj, byte* next)
    {
        next = (byte*)FreeWord.Decode(obj, (nint)_layout.FreePointerOffset, _freeTag);
        string report = $"kmem_cache {Name}: freelist corrupted: the free pointer of free object 0x{(nuint)obj:x} leads to 0x{(nuint)next:x}, " +
            "which is not an object of its slab (a write after free, or an overflow into it). It was not followed: the rest of the slab's freelist was dropped.";
        _freelistCorruption = report;
        SlabGenEventSource.Log.FreelistCorrupted(Name, report);
    }

    private void ClearFreeWord(byte* obj) => FreeWord.MarkAllocated(obj, (nint)_layout.FreePointerOffset);

    private void MarkCached(byte* obj) => FreeWord.MarkCached(obj, (nint)_layout.FreePointerOffset, _freeTag);
}
