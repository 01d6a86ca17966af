// The zone: buddy free lists of orders 0..MaxOrder under one lock, and the slow paths that use them.
// __rmqueue_smallest / expand / __free_one_page follow mm/page_alloc.c; arenas come and go here too.
//
// Lock order: the zone lock, then SectionMap's lock (taken only while an arena is registered or removed).
// The OS is asked for memory outside the zone lock.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

public sealed unsafe partial class PageAllocator
{
    private readonly Lock _zoneLock = new();

    /// <summary>The first free block of each order (a PageFrame*), linked through Next/Prev.</summary>
    private readonly nint[] _freeLists = new nint[MaxOrder + 1];
    private readonly long[] _freeCounts = new long[MaxOrder + 1];
    private readonly List<nint> _arenas = [];

    private readonly long _maxArenas;

    /// <summary>Arenas held plus arenas being taken from the OS: the count the cap is checked against.</summary>
    private long _arenaReservations;

    private long _failedAllocations;

    /// <summary>The number of 4 MiB arenas this allocator holds.</summary>
    public int ArenaCount
    {
        get
        {
            lock (_zoneLock)
            {
                return _arenas.Count;
            }
        }
    }

    /// <summary>The bytes this allocator holds from the OS (arenas × 4 MiB).</summary>
    public long BytesFromOs => (long)ArenaCount * (long)Arena.Bytes;

    /// <summary>How many allocations returned <see langword="null"/>, except those that passed <see cref="GfpFlags.NoWarn"/>.</summary>
    public long FailedAllocations => Volatile.Read(ref _failedAllocations);

    /// <summary>The free blocks per order on the buddy lists, like <c>/proc/buddyinfo</c>.</summary>
    public BuddyInfo BuddyInfo()
    {
        lock (_zoneLock)
        {
            return new BuddyInfo((long[])_freeCounts.Clone());
        }
    }

    /// <summary>
    /// Gives every fully free arena back to the OS, after draining the calling thread's page list.
    /// Pages cached by other threads keep their arenas until those threads free or exit.
    /// </summary>
    /// <returns>The bytes given back.</returns>
    public long Trim()
    {
        DrainPerThreadPages();
        var released = new List<nint>();
        lock (_zoneLock)
        {
            for (int i = _arenas.Count - 1; i >= 0; i--)
            {
                PageFrame* first = ((Arena*)_arenas[i])->Frames;
                if (first->State == PageFlags.Buddy && first->BlockOrder == MaxOrder)
                {
                    DelFromFreeList(first, MaxOrder);
                    released.Add(_arenas[i]);
                    _arenas.RemoveAt(i);
                }
            }
        }

        foreach (nint arena in released)
        {
            Arena.Destroy((Arena*)arena);
        }

        Interlocked.Add(ref _arenaReservations, -released.Count);
        return released.Count * (long)Arena.Bytes;
    }

    /// <summary>
    /// Gives all arenas back to the OS. Every block this allocator handed out becomes invalid.
    /// </summary>
    /// <exception cref="InvalidOperationException">On <see cref="Shared"/>, which lives as long as the process.</exception>
    public void Dispose()
    {
        if (ReferenceEquals(this, s_shared))
        {
            throw new InvalidOperationException("PageAllocator.Shared lives as long as the process and cannot be disposed.");
        }

        int id;
        lock (_zoneLock)
        {
            id = _id;
            if (id < 0)
            {
                return;
            }

            _id = -1;
            foreach (nint arena in _arenas)
            {
                Arena.Destroy((Arena*)arena);
            }

            _arenas.Clear();
            Array.Clear(_freeLists);
            Array.Clear(_freeCounts);
        }

        AllocatorIds.Return(id);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void* AllocPagesSlow(int order, GfpFlags flags)
    {
        if ((uint)order > MaxOrder)
        {
            ThrowBadOrder(order);
        }

        if ((flags & KernelAndAtomic) == KernelAndAtomic)
        {
            throw new ArgumentException("GfpFlags.Kernel (may sleep) and GfpFlags.Atomic (never sleeps) contradict each other.", nameof(flags));
        }

        ObjectDisposedException.ThrowIf(_id < 0, this);
        PageFrame* page;
        while (true)
        {
            lock (_zoneLock)
            {
                page = RmqueueSmallest(order);
            }

            // Only a caller that may sleep asks the OS; another thread may take the new arena first: retry.
            if (page != null || (flags & GfpFlags.Kernel) == 0 || !Grow())
            {
                break;
            }
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
        return page->Virtual;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FreePagesSlow(PageFrame* page, int order)
    {
        if (order == 0 && PerThreadPages > 0)
        {
            PerThreadPageList list = PerThreadPageList.GetOrCreate(this);
            if (list.Count == list.High)
            {
                ReturnPerThreadPages(list, list.Batch);
            }

            page->State = PageFlags.PerThread;
            list.Push(page);
            return;
        }

        lock (_zoneLock)
        {
            // Re-checked under the lock: of two racing frees of one block, the second fails here.
            if (page->State != PageFlags.Head || page->BlockOrder != order)
            {
                ThrowBadFree(page, page->Virtual, order);
            }

            for (nuint i = 1; i < (nuint)1 << order; i++)
            {
                page[i].State = PageFlags.None;
                page[i].HeadPage = null;
            }

            FreeOneBlock(page, order);
        }
    }

    /// <summary>Moves the <paramref name="count"/> coldest pages of a thread's list back to the buddy lists.</summary>
    internal void ReturnPerThreadPages(PerThreadPageList list, int count)
    {
        lock (_zoneLock)
        {
            if (_id < 0)
            {
                return; // the arenas are gone with the allocator
            }

            for (int i = 0; i < count; i++)
            {
                FreeOneBlock(list[i], 0);
            }
        }

        list.RemoveOldest(count);
    }

    /// <summary>Takes the smallest free block of at least <paramref name="order"/> and splits it down.</summary>
    private PageFrame* RmqueueSmallest(int order)
    {
        for (int current = order; current <= MaxOrder; current++)
        {
            var page = (PageFrame*)_freeLists[current];
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
        nuint index = ((nuint)page->Virtual >> PageShift) & (Arena.Pages - 1);
        PageFrame* frames = page - index;
        page->State = PageFlags.None;
        page->BlockOrder = 0;
        while (order < MaxOrder)
        {
            nuint buddyIndex = index ^ ((nuint)1 << order);
            PageFrame* buddy = frames + buddyIndex;
            if (buddy->State != PageFlags.Buddy || buddy->BlockOrder != order)
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
        var first = (PageFrame*)_freeLists[order];
        page->State = PageFlags.Buddy;
        page->BlockOrder = (byte)order;
        page->Prev = null;
        page->Next = first;
        if (first != null)
        {
            first->Prev = page;
        }

        _freeLists[order] = (nint)page;
        _freeCounts[order]++;
    }

    private void DelFromFreeList(PageFrame* page, int order)
    {
        if (page->Prev != null)
        {
            page->Prev->Next = page->Next;
        }
        else
        {
            _freeLists[order] = (nint)page->Next;
        }

        if (page->Next != null)
        {
            page->Next->Prev = page->Prev;
        }

        page->Next = page->Prev = null;
        page->State = PageFlags.None;
        page->BlockOrder = 0;
        _freeCounts[order]--;
    }

    /// <summary>Marks a block just taken off the free lists as allocated: head, tails, contents.</summary>
    private static void PrepNewPage(PageFrame* page, int order, GfpFlags flags)
    {
        page->BlockOrder = (byte)order;
        page->State = PageFlags.Head;
        for (nuint i = 1; i < (nuint)1 << order; i++)
        {
            page[i].HeadPage = page;
            page[i].State = PageFlags.Tail;
        }

        if ((flags & GfpFlags.Zero) != 0)
        {
            NativeMemory.Clear(page->Virtual, (nuint)PageSize << order);
        }
    }

    /// <summary>Takes one more arena from the OS, unless the cap forbids it. False when none was added.</summary>
    private bool Grow()
    {
        if (Interlocked.Increment(ref _arenaReservations) > _maxArenas)
        {
            Interlocked.Decrement(ref _arenaReservations);
            return false;
        }

        Arena* arena = Arena.Create(_id);
        if (arena != null)
        {
            lock (_zoneLock)
            {
                if (_id >= 0)
                {
                    _arenas.Add((nint)arena);
                    AddToFreeList(arena->Frames, MaxOrder);
                    return true;
                }
            }

            Arena.Destroy(arena);
        }

        Interlocked.Decrement(ref _arenaReservations);
        return false;
    }
}
