// Per-thread lists of small blocks: the kernel's per-cpu pages (struct per_cpu_pages), per thread here.
// A free of a block of order <= MaxListOrder pushes onto the calling thread's stack for that order, and an
// allocation pops from it, without a lock. The thread holds at most High pages in all; when a push would
// pass that, the coldest half of every stack goes back to the buddy lists under the zone lock. Lists are
// registered with their allocator together with their thread; the list of a thread that has exited is
// returned whole the next time the allocator drains, trims or registers a list: none is lost.
//
// The fast path reads the list through raw pointers, so it is a pinned block found through ThreadSlots:
//   [Cookie][Pages][Count 0..5][frames of order 0 (High)][order 1 (High)] … [order 5 (High)]
using System.Runtime.CompilerServices;

namespace SlabGen;

internal sealed unsafe class PerThreadPageList
{
    public const int DefaultHigh = 64;
    public const int MaxHigh = 1024;

    /// <summary>
    /// The largest order kept per thread. The kernel's PAGE_ALLOC_COSTLY_ORDER is 3; 5 lets kmalloc's page blocks
    /// up to 128 KiB skip the zone lock (docs/pages.md), while High still bounds the pages a thread holds.
    /// </summary>
    public const int MaxListOrder = 5;

    private const int PagesIndex = 1;
    private const int CountsIndex = 2;
    private const int FramesIndex = CountsIndex + MaxListOrder + 1;

    /// <summary>The pinned block; kept alive by this object, which its thread's slots and its allocator reference.</summary>
    private readonly nint[] _storage;

    private PerThreadPageList(PageAllocator owner, long cookie)
    {
        Allocator = owner;
        High = owner.PerThreadPages;
        Thread = Thread.CurrentThread;
        _storage = GC.AllocateArray<nint>(FramesIndex + ((MaxListOrder + 1) * High), pinned: true);
        Block = (nint*)Unsafe.AsPointer(ref _storage[0]);
        Block[ThreadSlots.CookieIndex] = (nint)cookie;
    }

    public PageAllocator Allocator { get; }

    /// <summary>The thread whose list this is.</summary>
    public Thread Thread { get; }

    /// <summary>The most pages the thread holds, all orders together (the kernel's pcp->high).</summary>
    public int High { get; }

    public nint* Block { get; }

    /// <summary>The pages held, all orders together.</summary>
    public int Pages => (int)Block[PagesIndex];

    /// <summary>How many blocks of <paramref name="order"/> are held.</summary>
    public int Count(int order) => (int)Block[CountsIndex + order];

    /// <summary>The <paramref name="index"/>-th coldest block of <paramref name="order"/>.</summary>
    public PageFrame* this[int order, int index] => (PageFrame*)Block[FramesIndex + (order * High) + index];

    /// <summary>The calling thread's list for <paramref name="owner"/>, or null when it has none yet.</summary>
    public static PerThreadPageList? Find(int id, PageAllocator owner) =>
        ThreadSlots.Owner(id) is PerThreadPageList list && list.Allocator == owner ? list : null;

    /// <summary>The calling thread's list for <paramref name="owner"/>, made and registered on first use.</summary>
    public static PerThreadPageList GetOrCreate(PageAllocator owner, long cookie)
    {
        int id = owner.Id;
        ObjectDisposedException.ThrowIf(id < 0, owner);
        PerThreadPageList? list = Find(id, owner);
        if (list is not null)
        {
            return list;
        }

        // A list left in this slot by a disposed allocator is simply dropped.
        list = new PerThreadPageList(owner, cookie);
        owner.Register(list);
        ThreadSlots.Set(id, list, list.Block);
        return list;
    }

    /// <summary>Whether blocks of <paramref name="order"/> are kept on the lists: small enough that half the list holds one.</summary>
    public bool Caches(int order) => order <= MaxListOrder && (2 << order) <= High;

    /// <summary>The hottest block of <paramref name="order"/> (0..MaxListOrder) in a list block, or null when there is none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageFrame* TryPop(nint* block, int order, int high)
    {
        nint count = block[CountsIndex + order] - 1;
        if (count < 0)
        {
            return null;
        }

        block[CountsIndex + order] = count;
        block[PagesIndex] -= 1 << order;
        return (PageFrame*)block[FramesIndex + (order * high) + count];
    }

    /// <summary>Keeps a block of <paramref name="order"/> (0..MaxListOrder) in a list block; false when the list is full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryPush(nint* block, PageFrame* page, int order, int high)
    {
        nint pages = block[PagesIndex] + (1 << order);
        if (pages > high)
        {
            return false;
        }

        nint count = block[CountsIndex + order];
        block[FramesIndex + (order * high) + count] = (nint)page;
        block[CountsIndex + order] = count + 1;
        block[PagesIndex] = pages;
        return true;
    }

    public bool TryPush(PageFrame* page, int order) => TryPush(Block, page, order, High);

    /// <summary>Drops the <paramref name="count"/> coldest blocks of <paramref name="order"/>, which the caller has freed.</summary>
    public void RemoveOldest(int order, int count)
    {
        var frames = new Span<nint>(Block + FramesIndex + (order * High), Count(order));
        frames[count..].CopyTo(frames);
        Block[CountsIndex + order] -= count;
        Block[PagesIndex] -= count << order;
    }
}
