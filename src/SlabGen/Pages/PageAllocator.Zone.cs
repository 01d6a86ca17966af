// The zone: buddy free lists of orders 0..MaxOrder under one lock, and the slow paths that use them.
// __rmqueue_smallest / expand / __free_one_page follow mm/page_alloc.c. Arenas: PageAllocator.Arenas.cs; reclaim
// and reserve: PageAllocator.Reclaim.cs.
//
// Lock order: a cache lock (or the list of shrinkers, in Dispose only), then the zone lock, then SectionMap's lock
// (taken only while an arena is registered or removed). The OS is asked for memory outside the zone lock, and no
// lock is held while a per-thread list is entered or drained (PerThread/). Before an allocation fails, Reclaim takes
// back what every thread and every cache on this allocator parks, and the allocation is tried once more.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

public sealed unsafe partial class PageAllocator
{
    /// <summary>How many allocations returned <see langword="null"/>, except those that passed <see cref="GfpFlags.NoWarn"/>.</summary>
    public long FailedAllocations => Volatile.Read(ref _failedAllocations);

    /// <summary>
    /// The free blocks per order on the buddy lists, like <c>/proc/buddyinfo</c>, and beside them the free blocks
    /// parked on threads' per-thread lists (<see cref="SlabGen.BuddyInfo.PerThreadBlocks"/>), which /proc/buddyinfo
    /// does not count either.
    /// </summary>
    /// <returns>A snapshot of the counts.</returns>
    public BuddyInfo BuddyInfo()
    {
        long[] perThread = new long[MaxOrder + 1];
        foreach (PerThreadPageList list in _pageLists.Snapshot())
        {
            for (int order = 0; order <= PerThreadPageList.MaxListOrder; order++)
            {
                perThread[order] += list.Count(order);
            }
        }

        lock (_zoneLock)
        {
            return new BuddyInfo(Array.ConvertAll(_freeArea, list => list.Count), perThread);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void* AllocPagesSlow(int order, GfpFlags flags)
    {
        if ((uint)order > MaxOrder)
        {
            ThrowBadOrder(order);
        }

        Gfp.Check(flags, "alloc_pages", null, order);
        ObjectDisposedException.ThrowIf(_id < 0, this);

        PageFrame* page;
        bool reclaimed = false;
        while (true)
        {
            lock (_zoneLock)
            {
                // The reserve is Atomic's: a caller that may sleep takes a new arena instead of dipping into it.
                page = Gfp.MaySleep(flags) && _freePages - (1L << order) < _reservedPages ? null : RmqueueSmallest(order);
            }

            if (page != null)
            {
                break;
            }

            // Only a caller that may sleep asks the OS; another thread may take the new arena first: retry. At the
            // cap, a thread that is still mapping an arena is about to add free pages: wait for it, then retry.
            if (Gfp.MaySleep(flags) && (AddArena() || WaitForArenasInFlight()))
            {
                continue;
            }

            // No false out-of-memory: what threads and caches park comes back, and the allocation is tried once more.
            if (reclaimed)
            {
                break;
            }

            Reclaim(flags);
            reclaimed = true;
        }

        if (page == null)
        {
            if ((flags & GfpFlags.NoWarn) == 0)
            {
                Interlocked.Increment(ref _failedAllocations);
            }

            return null;
        }

        PrepNewPage(page, order, flags);
        return page->Address;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FreePagesSlow(PageFrame* page, int order)
    {
        if ((uint)order <= PerThreadPageList.MaxListOrder && PerThreadPages > 0)
        {
            PerThreadPageList? list = PerThreadPageList.GetOrCreate(this, _pageLists, _cookie);
            if (list is not null && list.Caches(order) && FreeToPerThreadList(list, page, order))
            {
                return;
            }
        }

        FreeToZone(page, order);
    }

    /// <summary>Pushes onto the thread's list, first sending its coldest half to the buddy lists when it is full.</summary>
    private bool FreeToPerThreadList(PerThreadPageList list, PageFrame* page, int order)
    {
        list.SlowPaths++;
        if (PerThreadPageList.TryPush(list.Block, page, order, list.High))
        {
            return true;
        }

        if (!list.Enter())
        {
            return false;
        }

        List<nint> coldest = list.TakeColdestHalf();
        list.Exit();
        ReturnBlocks(coldest);
        return PerThreadPageList.TryPush(list.Block, page, order, list.High);
    }

    /// <summary>
    /// Frees a block straight into the buddy free lists, past the calling thread's per-thread list. Slab caches
    /// release slabs this way: a release often runs on a thread that will not allocate again (a shrink, a destroy,
    /// a slabinfo snapshot reaping exited threads), and pages parked in its list would be out of everyone's reach.
    /// </summary>
    internal void FreePagesToZone(void* address, int order) => FreeToZone(BlockToFree(address, order), order);

    private void FreeToZone(PageFrame* page, int order)
    {
        lock (_zoneLock)
        {
            // Re-checked under the lock: of two racing frees of one block, the second fails here.
            if (!page->IsPlainHead || page->Order != order)
            {
                ThrowBadFree(page, page->Address, order);
            }

            ClearTails(page, order);
            FreeOneBlock(page, order);
        }
    }

    /// <summary>Gives blocks taken off a per-thread list (frame | order) back to the buddy lists.</summary>
    internal void ReturnBlocks(List<nint> blocks)
    {
        lock (_zoneLock)
        {
            if (_id < 0)
            {
                return; // disposed: the arenas, and the blocks in them, are gone
            }

            foreach (nint taken in blocks)
            {
                PageFrame* page = PerThreadPageList.FrameOf(taken);
                int order = PerThreadPageList.OrderOf(taken);
                ClearTails(page, order);
                FreeOneBlock(page, order);
            }
        }
    }

    /// <summary>Takes the smallest free block of at least <paramref name="order"/> and splits it down.</summary>
    private PageFrame* RmqueueSmallest(int order)
    {
        for (int current = order; current <= MaxOrder; current++)
        {
            PageFrame* page = _freeArea[current].First;
            if (page != null)
            {
                DelFromFreeList(page, current);
                Expand(page, order, current);
                return page;
            }
        }

        return null;
    }

    /// <summary>Splits a block of order <paramref name="high"/> down to <paramref name="low"/>, freeing the upper halves.</summary>
    private void Expand(PageFrame* page, int low, int high)
    {
        nuint size = (nuint)1 << high;
        while (high > low)
        {
            high--;
            size >>= 1;
            AddToFreeList(page + size, high);
        }
    }

    /// <summary>Frees a block, merging with its buddy at index ^ (1 &lt;&lt; order) while the buddy is free and whole.</summary>
    private void FreeOneBlock(PageFrame* page, int order)
    {
        nuint index = ((nuint)page->Address >> PageShift) & (Arena.Pages - 1);
        PageFrame* frames = page - index;
        page->Flags = PageFlags.None;
        page->Order = 0;
        while (order < MaxOrder)
        {
            nuint buddyIndex = index ^ ((nuint)1 << order);
            PageFrame* buddy = frames + buddyIndex;
            if (buddy->Flags != PageFlags.Buddy || buddy->Order != order)
            {
                break;
            }

            DelFromFreeList(buddy, order);
            index &= buddyIndex;
            order++;
        }

        AddToFreeList(frames + index, order);
    }

    private void AddToFreeList(PageFrame* page, int order)
    {
        page->Flags = PageFlags.Buddy;
        page->Order = (byte)order;
        _freeArea[order].Add(page);
        _freePages += 1L << order;
    }

    private void DelFromFreeList(PageFrame* page, int order)
    {
        _freePages -= 1L << order;
        _freeArea[order].Remove(page);
        page->Flags = PageFlags.None;
        page->Order = 0;
    }

    /// <summary>Marks a block just taken off the free lists as allocated: head, tails (up to EagerTailMaxOrder), contents.</summary>
    private static void PrepNewPage(PageFrame* page, int order, GfpFlags flags)
    {
        page->Order = (byte)order;
        page->Flags = PageFlags.Head;
        for (nuint i = 1; i < TailPages(order); i++)
        {
            page[i].HeadPage = page;
            page[i].Flags = PageFlags.Tail;
        }

        if ((flags & GfpFlags.Zero) != 0)
        {
            NativeMemory.Clear(page->Address, (nuint)PageSize << order);
        }
    }

    /// <summary>How many frames of a block of <paramref name="order"/> carry Tail: all but the head's, or none above EagerTailMaxOrder (lazy tails, PageFrame.cs).</summary>
    private static nuint TailPages(int order) => order <= PageFrame.EagerTailMaxOrder ? (nuint)1 << order : 1;

    /// <summary>Marks the pages after a block's first as parts of a free block again.</summary>
    private static void ClearTails(PageFrame* page, int order)
    {
        for (nuint i = 1; i < TailPages(order); i++)
        {
            page[i].Flags = PageFlags.None;
            page[i].HeadPage = null;
        }
    }
}
