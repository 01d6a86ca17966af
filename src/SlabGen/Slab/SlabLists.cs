// A cache's slabs and the count that goes with them, under one lock: the kernel's kmem_cache_node. A slab is on
// exactly one list, chosen by its in-use count: empty (0), full (ObjectsPerSlab), else partial; ActiveObjects is the
// sum of the in-use counts (objects off their slabs' freelists: allocated, or parked in threads' caches and the depot),
// which the cache counts as it takes and returns objects.
// Every field is read and written under Lock, ActiveObjects also read without it (Volatile) for statistics.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace SlabGen;

internal unsafe struct SlabLists
{
    /// <summary>Guards the lists, the in-use counts of their slabs and <see cref="ActiveObjects"/> (and the debug caches' object states).</summary>
    public readonly Lock Lock;

    public PageFrameList Empty;
    public PageFrameList Partial;
    public PageFrameList Full;

    /// <summary>The sum of the in-use counts of all slabs.</summary>
    public long ActiveObjects;

    /// <summary>Enumerations and resets running (KmemCache.Live.cs): while any is, no slab leaves the cache.</summary>
    public int Pins;

    /// <summary>The stamp of the last pin (KmemCache.PinSlabs).</summary>
    public long LastPinStamp;

    /// <summary>Slabs the cache keeps whatever Shrink, memory pressure or frees do (KmemCache.Reserve).</summary>
    public long ReservedSlabs;

    private readonly int _objectsPerSlab;

    public SlabLists(int objectsPerSlab)
    {
        Lock = new Lock();
        _objectsPerSlab = objectsPerSlab;
    }

    /// <summary>All slabs.</summary>
    public readonly long Slabs => Empty.Count + Partial.Count + Full.Count;

    /// <summary>Slabs with at least one object off the freelist (slabinfo's active_slabs).</summary>
    public readonly long SlabsInUse => Partial.Count + Full.Count;

    /// <summary>The slab to take objects from next: a partial one first, so empty slabs stay empty and can go back.</summary>
    public readonly PageFrame* NextToTakeFrom => Partial.First != null ? Partial.First : Empty.First;

    /// <summary>Sets a slab's in-use count and moves it to the list that count belongs on (the caller counts ActiveObjects).</summary>
    public void Relist(PageFrame* slab, int inUse)
    {
        ref PageFrameList from = ref ListFor(SlabPage.Of(slab)->InUse);
        ref PageFrameList to = ref ListFor(inUse);
        SlabPage.Of(slab)->InUse = inUse;
        if (!Unsafe.AreSame(ref from, ref to))
        {
            from.Remove(slab);
            to.Add(slab);
        }
    }

    /// <summary>
    /// What is wrong with the lists, or null: a slab on a list its in-use count does not belong on, an in-use count out
    /// of range, or ActiveObjects not the sum of the in-use counts. Under the lock; for tests. (After a freelist
    /// corruption was reported, the damaged slab counts as full until its objects come back, so the sum runs ahead.)
    /// </summary>
    public readonly string? Verify()
    {
        long sum = 0;
        foreach ((PageFrameList list, string name) in (ReadOnlySpan<(PageFrameList, string)>)[(Empty, "empty"), (Partial, "partial"), (Full, "full")])
        {
            long seen = 0;
            for (PageFrame* slab = list.First; slab != null; slab = slab->Next)
            {
                int inUse = SlabPage.Of(slab)->InUse;
                string belongs = inUse == 0 ? "empty" : inUse == _objectsPerSlab ? "full" : "partial";
                if (inUse < 0 || inUse > _objectsPerSlab || belongs != name)
                {
                    return $"a slab with {inUse} of {_objectsPerSlab} objects in use is on the {name} list";
                }

                sum += inUse;
                seen++;
            }

            if (seen != list.Count)
            {
                return $"the {name} list counts {list.Count} slabs but links {seen}";
            }
        }

        return sum == ActiveObjects ? null : $"ActiveObjects is {ActiveObjects} but the slabs have {sum} objects in use";
    }

    [UnscopedRef]
    private ref PageFrameList ListFor(int inUse)
    {
        if (inUse == 0)
        {
            return ref Empty;
        }

        return ref inUse == _objectsPerSlab ? ref Full : ref Partial;
    }
}
