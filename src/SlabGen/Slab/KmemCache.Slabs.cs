// The slab lists: objects taken off slabs and put back, a slab grown from the page allocator and released to it,
// and each slab's freelist in its objects' free words (FreeWord.cs).
//
// A slab is on exactly one list, chosen by its in-use count: empty (0), full (ObjectsPerSlab), else partial.
// Allocation prefers partial slabs, so empty ones stay empty and can go back to the page allocator.
// Lock order: the cache lock, then the page allocator's zone lock (slabs are freed under the cache lock). No lock
// is held while the page allocator is asked for a new slab, or while constructors run.

namespace SlabGen;

public sealed unsafe partial class KmemCache
{
    /// <summary>Empty slabs kept for the next allocations; more go back to the page allocator at once.</summary>
    private const int KeptEmptySlabs = 2;

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
        if (SlabPage.Of(slab)->InUse == 0 && _node.Empty.Count > KeptEmptySlabs && MayReleaseSlab)
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
        StampPages(slab, _cookie, _kmallocClass, colour);
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
    private void StampPages(PageFrame* slab, long cookie, byte kmallocClass, int colour)
    {
        for (nuint i = 0; i < (nuint)1 << _layout.Order; i++)
        {
            SlabPage* page = SlabPage.Of(slab + i);
            page->Cookie = cookie;
            page->KmallocClass = kmallocClass;
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
