// The slab lists and the slow paths: refilling a thread's array cache from slabs, flushing it back, growing
// the cache by a slab, shrinking and destroying.
//
// A slab is on exactly one list, chosen by its in-use count: empty (0), full (ObjectsPerSlab), else partial.
// Allocation prefers partial slabs, so empty ones stay empty and can go back to the page allocator.
// Lock order: the cache lock, then the page allocator's zone lock (slabs are freed under the cache lock).
// The page allocator is asked for new slabs outside the cache lock, and constructors run outside it too.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

public sealed unsafe partial class KmemCache
{
    /// <summary>Empty slabs kept for the next allocations; more go back to the page allocator at once.</summary>
    private const int EmptySlabReserve = 2;

    /// <summary>The shared array holds this many batches (the kernel SLAB's sharedfactor for small objects).</summary>
    private const int SharedFactor = 8;

    private readonly Lock _lock = new();
    private readonly List<ThreadCache> _threadCaches = [];
    private PageFrameList _empty;
    private PageFrameList _partial;
    private PageFrameList _full;
    private long _activeObjects;
    private uint _nextColour;

    /// <summary>
    /// The shared array cache (SharedArray.cs): batches that threads' array caches flushed, handed to the next
    /// thread that refills by copying pointers, instead of threading each object through its slab's freelist.
    /// Its objects count as active, as the kernel counts them.
    /// </summary>
    private SharedArray? _shared;

    /// <summary>
    /// Objects not on a slab's freelist: allocated by callers or cached in threads' array caches (slabinfo's
    /// active_objs, as the kernel counts it).
    /// </summary>
    public long ActiveObjects => Volatile.Read(ref _activeObjects);

    /// <summary>The objects of all slabs of the cache (slabinfo's num_objs).</summary>
    public long TotalObjects => SlabCount * ObjectsPerSlab;

    /// <summary>How many slabs the cache holds.</summary>
    public long SlabCount
    {
        get
        {
            lock (_lock)
            {
                return _empty.Count + _partial.Count + _full.Count;
            }
        }
    }

    /// <summary>
    /// Returns the calling thread's cached objects and those of exited threads to their slabs, then gives every
    /// empty slab back to the page allocator (<c>kmem_cache_shrink</c>).
    /// </summary>
    /// <returns>The bytes given back to the page allocator.</returns>
    public long Shrink()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_id < 0, this);
            DrainThreadCaches(includeCallingThread: true);
            DrainShared();
            if (_keepSlabs)
            {
                return 0;
            }

            long released = _empty.Count * (long)_layout.SlabBytes;
            ReleaseAll(ref _empty);
            return released;
        }
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
        if (_permanentOwner is not null)
        {
            throw new InvalidOperationException(
                $"Cache '{Name}' {_permanentOwner} and lives as long as the process; Shrink() gives its free slabs back.");
        }

        int id;
        lock (_lock)
        {
            id = _id;
            if (id < 0)
            {
                return;
            }

            DrainThreadCaches(includeCallingThread: true);
            DrainShared();
            long cached = 0;
            foreach (ThreadCache cache in _threadCaches)
            {
                cached += cache.Avail;
            }

            long live = _activeObjects - cached;
            if (live > 0)
            {
                throw new InvalidOperationException(LeakReport(live));
            }

            _id = -1;
            ReleaseAll(ref _empty);
            ReleaseAll(ref _partial);
            ReleaseAll(ref _full);
            _threadCaches.Clear();
            _activeObjects = 0;
        }

        CacheRegistry.Remove(this, id);
        OwnerIds.Return(id);
    }

    /// <summary>This cache's slabinfo row, after reaping exited threads; null once destroyed.</summary>
    internal SlabInfoEntry? SlabInfoEntry()
    {
        lock (_lock)
        {
            if (_id < 0)
            {
                return null;
            }

            DrainThreadCaches(includeCallingThread: false);
            long slabs = _empty.Count + _partial.Count + _full.Count;
            return new SlabInfoEntry(Name, _activeObjects, slabs * ObjectsPerSlab, (long)_layout.Stride, ObjectsPerSlab,
                1 << SlabOrder, Limit, BatchCount, _debug ? 0 : SharedFactor, _partial.Count + _full.Count, slabs, _shared?.Avail ?? 0);
        }
    }

    private void* AllocFromThreadCache(GfpFlags flags)
    {
        ThreadCache cache = GetThreadCache();
        if (cache.Avail == 0 && !Refill(cache, flags))
        {
            return null;
        }

        return cache.Pop();
    }

    /// <summary>The calling thread's array cache, made and registered on first use.</summary>
    private ThreadCache GetThreadCache()
    {
        if (ThreadSlots.Owner(_id) is ThreadCache existing && existing.Cache == this)
        {
            return existing;
        }

        var cache = new ThreadCache(this, _cookie);
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_id < 0, this);
            DrainThreadCaches(includeCallingThread: false);
            _threadCaches.Add(cache);
        }

        ThreadSlots.Set(_id, cache, cache.Block);
        return cache;
    }

    /// <summary>Fills an empty array cache with a batch from the shared array, else from the slabs, growing the cache when they are all full.</summary>
    private bool Refill(ThreadCache cache, GfpFlags flags)
    {
        while (true)
        {
            if (TakeShared(cache))
            {
                return true;
            }

            lock (_lock)
            {
                cache.Avail += TakeObjects(cache.Entries.Slice(cache.Avail, cache.BatchCount));
                if (cache.Avail != 0)
                {
                    return true;
                }
            }

            if (!Grow(flags))
            {
                return false;
            }
        }
    }

    private bool TakeShared(ThreadCache cache)
    {
        int moved = _shared?.Take(cache.Entries.Slice(cache.Avail, cache.BatchCount)) ?? 0;
        cache.Avail += moved;
        return moved != 0;
    }

    /// <summary>Takes free objects off the slabs, partial slabs first. Under the cache lock.</summary>
    private int TakeObjects(Span<nint> into)
    {
        int taken = 0;
        while (taken < into.Length)
        {
            PageFrame* slab = _partial.First != null ? _partial.First : _empty.First;
            if (slab == null)
            {
                break;
            }

            int inUse = slab->SlabInUse;
            byte* obj = slab->SlabFreelist;
            while (taken < into.Length && obj != null)
            {
                into[taken++] = (nint)obj;
                obj = *(byte**)(obj + _layout.FreePointerOffset);
                inUse++;
            }

            slab->SlabFreelist = obj;
            Relist(slab, inUse);
        }

        _activeObjects += taken;
        return taken;
    }

    /// <summary>Puts an object back on its slab's freelist; frees the slab past the empty reserve. Under the cache lock.</summary>
    private void PutObject(PageFrame* slab, byte* obj)
    {
        *(byte**)(obj + _layout.FreePointerOffset) = slab->SlabFreelist;
        slab->SlabFreelist = obj;
        Relist(slab, slab->SlabInUse - 1);
        _activeObjects--;
        if (slab->SlabInUse == 0 && _empty.Count > EmptySlabReserve && !_keepSlabs)
        {
            _empty.Remove(slab);
            ReleaseSlab(slab);
        }
    }

    /// <summary>
    /// Makes room in a full array cache (SLAB's cache_flusharray): its BatchCount coldest objects go to the shared
    /// array when it has room, else back to their slabs under the cache lock.
    /// </summary>
    private void FlushBatch(ThreadCache cache)
    {
        int count = cache.BatchCount;
        if (_shared is null)
        {
            Interlocked.CompareExchange(ref _shared, new SharedArray(SharedFactor, count), null);
        }

        if (_shared.TryPut(cache.Entries[..count]))
        {
            Span<nint> entries = cache.Entries;
            entries[count..cache.Avail].CopyTo(entries);
            cache.Avail -= count;
            return;
        }

        lock (_lock)
        {
            ReturnObjects(cache, count);
        }
    }

    /// <summary>Returns every object of the shared array to its slab. Under the cache lock.</summary>
    private void DrainShared()
    {
        Span<nint> batch = stackalloc nint[BatchCount];
        int taken;
        while (_shared is not null && (taken = _shared.Take(batch)) != 0)
        {
            foreach (nint entry in batch[..taken])
            {
                var obj = (byte*)entry;
                PutObject(PageAllocator.HeadFrameOf(obj), obj);
            }
        }
    }

    /// <summary>Returns the <paramref name="count"/> coldest objects of an array cache to their slabs. Under the cache lock.</summary>
    private void ReturnObjects(ThreadCache cache, int count)
    {
        Span<nint> entries = cache.Entries;
        for (int i = 0; i < count; i++)
        {
            var obj = (byte*)entries[i];
            PutObject(PageAllocator.HeadFrameOf(obj), obj);
        }

        entries[count..cache.Avail].CopyTo(entries);
        cache.Avail -= count;
    }

    /// <summary>
    /// Empties the array caches of threads that have exited, and forgets them; with
    /// <paramref name="includeCallingThread"/>, empties the calling thread's too. Under the cache lock.
    /// </summary>
    private void DrainThreadCaches(bool includeCallingThread)
    {
        Thread current = Thread.CurrentThread;
        for (int i = _threadCaches.Count - 1; i >= 0; i--)
        {
            ThreadCache cache = _threadCaches[i];
            bool exited = !cache.Thread.IsAlive;
            if (exited || (includeCallingThread && cache.Thread == current))
            {
                ReturnObjects(cache, cache.Avail);
            }

            if (exited)
            {
                _threadCaches.RemoveAt(i);
            }
        }
    }

    /// <summary>Moves a slab to the list its new in-use count belongs on. Under the cache lock.</summary>
    private void Relist(PageFrame* slab, int inUse)
    {
        ref PageFrameList from = ref ListFor(slab->SlabInUse);
        ref PageFrameList to = ref ListFor(inUse);
        slab->SlabInUse = inUse;
        if (!Unsafe.AreSame(ref from, ref to))
        {
            from.Remove(slab);
            to.Add(slab);
        }
    }

    private ref PageFrameList ListFor(int inUse)
    {
        if (inUse == 0)
        {
            return ref _empty;
        }

        return ref inUse == _layout.ObjectsPerSlab ? ref _full : ref _partial;
    }

    /// <summary>Adds one slab (new_slab): pages from the allocator, the next colour, objects initialised and linked.</summary>
    private bool Grow(GfpFlags flags)
    {
        void* memory = _pages.AllocPages(_layout.Order, flags & (GfpFlags.Kernel | GfpFlags.Atomic | GfpFlags.NoWarn));
        if (memory == null)
        {
            return false;
        }

        PageFrame* slab = PageAllocator.HeadFrameOf(memory);
        int colour = (int)((Interlocked.Increment(ref _nextColour) - 1) % (uint)_layout.Colours * _layout.ColourStep);
        byte* first = (byte*)memory + colour;
        int objects = _layout.ObjectsPerSlab;
        for (int i = 0; i < objects; i++)
        {
            byte* obj = first + ((nuint)i * _layout.Stride);
            InitObject(obj);
            *(byte**)(obj + _layout.FreePointerOffset) = i + 1 < objects ? obj + _layout.Stride : null;
        }

        slab->SlabFreelist = first;
        slab->SlabInUse = 0;
        slab->SlabColour = colour;
        slab->SlabCacheId = _id;
        slab->State = PageFlags.Head | PageFlags.Slab;
        StampPages(slab, _cookie, _slabClass);
        lock (_lock)
        {
            if (_id < 0)
            {
                ReleaseSlab(slab);
                ObjectDisposedException.ThrowIf(true, this);
            }

            _empty.Add(slab);
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
        slab->State = PageFlags.Head;
        slab->SlabCacheId = 0;
        StampPages(slab, 0, 0);
        slab->SlabFreelist = null;
        slab->SlabInUse = 0;
        _pages.FreePagesToZone(slab->Virtual, _layout.Order);
    }

    /// <summary>Writes the owner's cookie and kmalloc class into every page of a slab (0 and 0 when it is released).</summary>
    private void StampPages(PageFrame* slab, long cookie, byte slabClass)
    {
        for (nuint i = 0; i < (nuint)1 << _layout.Order; i++)
        {
            slab[i].SlabCookie = cookie;
            slab[i].SlabClass = slabClass;
        }
    }
}
