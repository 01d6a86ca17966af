// An array cache's misses: an allocation that finds its thread's stack empty takes a full magazine from the depot,
// else a batch from the slabs, else grows the cache by a slab; a free that finds it full gives a magazine to the
// depot, or its objects back to their slabs. No lock is held while an array cache is entered or drained (PerThread/).

namespace SlabGen;

public sealed unsafe partial class KmemCache
{
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
}
