// The zone: buddy free lists of orders 0..MaxOrder under one lock, and the slow paths that use them.
// __rmqueue_smallest / expand / __free_one_page follow mm/page_alloc.c; arenas come and go here too.
//
// Lock order: a cache lock (or the list of shrinkers, in Dispose only), then the zone lock, then SectionMap's lock (taken only while an arena is registered or
// removed). The OS is asked for memory outside the zone lock, and no lock is held while a per-thread list is
// entered or drained (PerThread/). Before an allocation fails, Reclaim takes back what every thread and every
// cache on this allocator parks, and the allocation is tried once more.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

public sealed unsafe partial class PageAllocator
{
    private readonly Lock _zoneLock = new();

    /// <summary>The free blocks of each order.</summary>
    private readonly PageFrameList[] _freeArea = new PageFrameList[MaxOrder + 1];
    private readonly List<nint> _arenas = [];
    private readonly PerThreadRegistry<PerThreadPageList> _pageLists = new();

    /// <summary>What parks this allocator's pages (its caches), for Reclaim and Dispose; guarded by itself (only Dispose takes the zone lock under it).</summary>
    private readonly List<IShrinker> _shrinkers = [];

    private readonly long _maxArenas;

    /// <summary>Whether the arenas are memory the caller gave (PageAllocator.Borrowed.cs): none is taken from or given back to the OS.</summary>
    private readonly bool _borrowed;

    /// <summary>Pages of borrowed arenas outside the caller's block or holding the frames: never free, never allocated.</summary>
    private long _unusablePages;

    /// <summary>Arenas held plus arenas being taken from the OS: the count the cap is checked against.</summary>
    private long _arenaReservations;

    /// <summary>Arenas being taken from the OS right now (AddArena), which a thread at the cap waits for.</summary>
    private int _arenasInFlight;

    private long _failedAllocations;

    /// <summary>Pages on the buddy lists; guarded by the zone lock.</summary>
    private long _freePages;

    /// <summary>Free pages only Atomic allocations may take (<see cref="Reserve"/>); guarded by the zone lock.</summary>
    private long _reservedPages;

    /// <summary>1 once a Dispose has reported that the allocator was still in use.</summary>
    private int _leakReported;

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

    /// <summary>The bytes this allocator holds from the OS (arenas × 4 MiB); 0 for an allocator over caller memory.</summary>
    public long BytesFromOs => _borrowed ? 0 : (long)ArenaCount * (long)Arena.Bytes;

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

    /// <summary>
    /// Gives every fully free arena back to the OS, after draining every thread's per-thread list (live threads'
    /// too); an allocator over caller memory, which has no arena of its own to give, gives the pages of its free blocks
    /// back instead (on Linux: the memory stays the caller's and its free pages read zero when next touched). Slabs are
    /// not touched: <see cref="KmemCache.Shrink"/> gives a cache's empty slabs back first.
    /// </summary>
    /// <returns>The bytes given back (over caller memory: the bytes of the free blocks, given back again if they were already).</returns>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public long Trim()
    {
        DrainPerThreadPages();
        return _borrowed ? DiscardFreeBlocks() : ReleaseFreeArenas();
    }

    /// <summary>The pages of every free block go back to the OS; under the zone lock, so no block is handed out while its pages go.</summary>
    private long DiscardFreeBlocks()
    {
        long bytes = 0;
        lock (_zoneLock)
        {
            for (int order = 0; order <= MaxOrder; order++)
            {
                for (PageFrame* page = _freeArea[order].First; page != null; page = page->Next)
                {
                    if (ArenaSpace.Discard(page->Address, (nuint)PageSize << order))
                    {
                        bytes += (long)PageSize << order;
                    }
                }
            }
        }

        return bytes;
    }

    /// <summary>The most a reserve may ask for: the cap, else the memory the runtime says the process may use.</summary>
    internal long ReservableBytes => MaxBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary><see cref="ReservableBytes"/> and where it comes from, for the refusal's message.</summary>
    internal string ReservableDescription => MaxBytes is long cap
        ? $"its MaxBytes cap of {cap:N0} bytes"
        : $"{ReservableBytes:N0} bytes, the memory available to the process";

    /// <summary>The bytes kept free for <see cref="GfpFlags.Atomic"/> allocations (<see cref="Reserve"/>).</summary>
    public long ReservedBytes
    {
        get
        {
            lock (_zoneLock)
            {
                return _reservedPages * PageSize;
            }
        }
    }

    /// <summary>
    /// Keeps at least <paramref name="bytes"/> free for <see cref="GfpFlags.Atomic"/> allocations (the kernel's
    /// min_free_kbytes reserve that atomic allocations may dip into): arenas are taken now, at load time, and from then
    /// on an allocation that may sleep takes a new arena (or fails at the cap) rather than leave less than the
    /// reserve free, while an Atomic one takes whatever is free. Slabs an Atomic allocation grows a cache by come from
    /// it too. 0 ends the reserve; calling it again sets a new one.
    /// </summary>
    /// <param name="bytes">The reserve, rounded up to whole pages; 0 for none.</param>
    /// <returns>The reserve in bytes, whole pages.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative, or more than the allocator may ever hold (its cap, else the memory available to the process): refused before anything is taken.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called in interrupt context: taking memory from the OS may sleep.</exception>
    /// <exception cref="InsufficientMemoryException">
    /// The cap (or the OS) leaves less than that free even after every thread's parked pages came back; the reserve stays
    /// as it was, the arenas taken stay with the allocator.
    /// </exception>
    [MaySleep]
    public long Reserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ObjectDisposedException.ThrowIf(_id < 0, this);
        Gfp.Check(GfpFlags.Kernel, "page_reserve", null);
        long pages = (bytes / PageSize) + (bytes % PageSize != 0 ? 1 : 0); // no overflow near long.MaxValue
        if (bytes > ReservableBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
                $"PageAllocator #{_id} cannot reserve {bytes:N0} bytes: more than it may ever hold ({ReservableDescription}). The reserve is unchanged.");
        }

        bool reclaimed = false;
        while (true)
        {
            lock (_zoneLock)
            {
                if (_freePages >= pages)
                {
                    _reservedPages = pages;
                    return pages * PageSize;
                }
            }

            if (AddArena() || WaitForArenasInFlight())
            {
                continue;
            }

            if (reclaimed)
            {
                long free;
                lock (_zoneLock)
                {
                    free = _freePages;
                }

                throw new InsufficientMemoryException($"PageAllocator #{_id} cannot reserve {pages * PageSize:N0} bytes: {free * PageSize:N0} are free" +
                    (MaxBytes is long cap ? $" at its MaxBytes cap of {cap:N0} bytes." : " and the OS refused more memory.") + " The reserve is unchanged.");
            }

            Reclaim(DrainScope.All);
            reclaimed = true;
        }
    }

    /// <summary>
    /// Takes back what threads and caches on this allocator park, so a failing allocation can be retried:
    /// every cache's array caches and depot (then its empty slabs), then the per-thread page lists. A caller that
    /// may sleep reaches every thread; an Atomic one only its own thread and exited threads, without waiting.
    /// </summary>
    internal void Reclaim(GfpFlags flags) => Reclaim(Gfp.MaySleep(flags) ? DrainScope.All : DrainScope.OwnAndExited);

    internal void Reclaim(DrainScope scope)
    {
        foreach (IShrinker shrinker in Shrinkers())
        {
            shrinker.Reclaim(scope);
        }

        _pageLists.Drain(scope);
    }

    /// <summary>A memory-pressure trim (MemoryPressure.cs): idle or all threads, caches, then free arenas.</summary>
    internal long TrimForPressure(bool highLoad)
    {
        if (_id < 0)
        {
            return 0;
        }

        Reclaim(highLoad ? DrainScope.All : DrainScope.Idle);
        return ReleaseFreeArenas();
    }

    /// <summary>Registers <paramref name="shrinker"/> (<c>register_shrinker</c>) until <see cref="UnregisterShrinker"/>.</summary>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    internal void RegisterShrinker(IShrinker shrinker)
    {
        lock (_shrinkers)
        {
            ObjectDisposedException.ThrowIf(_id < 0, this);
            _shrinkers.Add(shrinker);
        }
    }

    internal void UnregisterShrinker(IShrinker shrinker)
    {
        lock (_shrinkers)
        {
            _shrinkers.Remove(shrinker);
        }
    }

    private IShrinker[] Shrinkers()
    {
        lock (_shrinkers)
        {
            return [.. _shrinkers];
        }
    }

    private long ReleaseFreeArenas()
    {
        var released = new List<nint>();
        lock (_zoneLock)
        {
            for (int i = _arenas.Count - 1; i >= 0; i--)
            {
                PageFrame* first = ((Arena*)_arenas[i])->Frames;
                if (!_borrowed && first->Flags == PageFlags.Buddy && first->Order == MaxOrder && _freePages - Arena.Pages >= _reservedPages)
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
    /// Gives all arenas back to the OS, once nothing uses them: every cache on this allocator destroyed and every
    /// block freed (blocks parked on threads' per-thread lists count as free). Never throws for what is left
    /// (.NET's rule for Dispose): while a cache or a block still uses the allocator, it stays in place and usable, and
    /// the leak is reported once, a <see cref="SlabGenEventSource.AllocatorLeaked"/> event and the
    /// <c>slabgen.pages.leaked_disposals</c> counter naming what is left. Dispose again once it is gone.
    /// </summary>
    /// <exception cref="InvalidOperationException">On <see cref="Shared"/>, which lives as long as the process.</exception>
    public void Dispose()
    {
        if (_isShared)
        {
            throw new InvalidOperationException("PageAllocator.Shared lives as long as the process and cannot be disposed.");
        }

        if (_id < 0)
        {
            return;
        }

        _pageLists.Drain(DrainScope.All);
        int id;
        string? leak = null;
        lock (_shrinkers)
        {
            lock (_zoneLock)
            {
                id = _id;
                if (id < 0)
                {
                    return;
                }

                long inUse = PagesInUseLocked();
                if (_shrinkers.Count != 0 || inUse != 0)
                {
                    leak = $"PageAllocator #{id} was disposed while in use: " + (_shrinkers.Count != 0
                        ? $"{_shrinkers.Count} cache(s) still take slabs from it ({string.Join(", ", _shrinkers.Take(8).Select(shrinker => $"'{shrinker.Name}'"))}{(_shrinkers.Count > 8 ? ", …" : "")}) and {inUse} page(s) are allocated. Destroy the caches"
                        : $"{inUse} page(s) are still allocated from it. Free them") +
                        " and dispose again; until then it keeps its memory and stays usable.";
                }
                else
                {
                    _id = -1;
                    Owners.ById.TryRemove(id, out _);
                }
            }
        }

        if (leak is not null)
        {
            if (Interlocked.Exchange(ref _leakReported, 1) == 0)
            {
                SlabGenEventSource.Log.AllocatorLeaked(id, leak);
                SlabGenMetrics.RecordLeakedDisposal(id);
            }

            return;
        }

        _pageLists.Close();
        MemoryPressure.Remove(this);
        lock (_zoneLock)
        {
            foreach (nint arena in _arenas)
            {
                Arena.Destroy((Arena*)arena);
            }

            _arenas.Clear();
            Array.Clear(_freeArea);
            _freePages = 0;
        }

        OwnerIds.Return(id);
    }

    /// <summary>Pages of the arenas that are not on a buddy list: allocated, or parked on a per-thread list. Under the zone lock.</summary>
    private long PagesInUseLocked()
    {
        long free = 0;
        for (int order = 0; order <= MaxOrder; order++)
        {
            free += (long)_freeArea[order].Count << order;
        }

        return ((long)_arenas.Count << MaxOrder) - free - _unusablePages;
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

    /// <summary>Takes one more arena from the OS, unless the cap forbids it. False when none was added.</summary>
    private bool AddArena()
    {
        if (Interlocked.Increment(ref _arenaReservations) > _maxArenas)
        {
            Interlocked.Decrement(ref _arenaReservations);
            return false;
        }

        Interlocked.Increment(ref _arenasInFlight);
        try
        {
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
        finally
        {
            Interlocked.Decrement(ref _arenasInFlight);
        }
    }

    /// <summary>
    /// Waits while other threads map arenas the cap has room for; true if there were any (their pages are on the
    /// free lists now, or their mapping failed and the reservation is free again). A thread that found the cap
    /// reached while another was still mapping its last arena would otherwise report a false out-of-memory.
    /// </summary>
    private bool WaitForArenasInFlight()
    {
        if (Volatile.Read(ref _arenasInFlight) == 0)
        {
            return false;
        }

        SpinWait spinner = default;
        while (Volatile.Read(ref _arenasInFlight) != 0)
        {
            spinner.SpinOnce();
        }

        return true;
    }
}
