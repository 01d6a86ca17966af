// Per-thread lists of small blocks: the kernel's per-cpu pages (struct per_cpu_pages), per thread here.
// A free of a block of order <= CostlyOrder pushes onto the calling thread's stack for that order, and an
// allocation pops from it, without a lock. The thread holds at most High pages in all; when a push would
// pass that, the coldest half of every stack goes back to the buddy lists under the zone lock. Lists are
// registered with their allocator together with their thread; the list of a thread that has exited is
// returned whole the next time the allocator drains, trims or registers a list: none is lost.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

internal sealed unsafe class PerThreadPageList : ThreadLocalState
{
    public const int DefaultHigh = 64;
    public const int MaxHigh = 1024;

    /// <summary>The largest order kept per thread (the kernel's PAGE_ALLOC_COSTLY_ORDER).</summary>
    public const int CostlyOrder = 3;

    /// <summary>PageFrame* of the cached blocks: a stack of High slots per order, index 0 the coldest.</summary>
    private readonly nint[] _frames;

    private OrderCounts _counts;

    private PerThreadPageList(PageAllocator owner)
        : base(owner)
    {
        High = owner.PerThreadPages;
        _frames = new nint[(CostlyOrder + 1) * High];
        Thread = Thread.CurrentThread;
    }

    /// <summary>The thread whose list this is.</summary>
    public Thread Thread { get; }

    /// <summary>The most pages the thread holds, all orders together (the kernel's pcp->high).</summary>
    public int High { get; }

    /// <summary>The pages held, all orders together.</summary>
    public int Pages { get; private set; }

    /// <summary>How many blocks of <paramref name="order"/> are held.</summary>
    public int Count(int order) => _counts[order];

    /// <summary>The <paramref name="index"/>-th coldest block of <paramref name="order"/>.</summary>
    public PageFrame* this[int order, int index] => (PageFrame*)_frames[(order * High) + index];

    /// <summary>The calling thread's list for <paramref name="owner"/>, or null when it has none yet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PerThreadPageList? Find(int id, PageAllocator owner)
    {
        ThreadLocalState? state = ThreadLocals.Find(id);
        return state is not null && state.Owner == owner ? Unsafe.As<PerThreadPageList>(state) : null;
    }

    /// <summary>The calling thread's list for <paramref name="owner"/>, made on first use.</summary>
    public static PerThreadPageList GetOrCreate(PageAllocator owner)
    {
        int id = owner.Id;
        ObjectDisposedException.ThrowIf(id < 0, owner);
        PerThreadPageList? list = Find(id, owner);
        if (list is not null)
        {
            return list;
        }

        // A list left in this slot by a disposed allocator is simply dropped.
        list = new PerThreadPageList(owner);
        owner.Register(list);
        ThreadLocals.Set(id, list);
        return list;
    }

    /// <summary>Whether blocks of <paramref name="order"/> are kept on the lists: small enough that half the list holds one.</summary>
    public bool Caches(int order) => order <= CostlyOrder && (2 << order) <= High;

    /// <summary>The hottest block of <paramref name="order"/> (0..CostlyOrder), or null when there is none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageFrame* TryPop(int order)
    {
        int count = _counts[order] - 1;
        if (count < 0)
        {
            return null;
        }

        _counts[order] = count;
        Pages -= 1 << order;
        return (PageFrame*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_frames), (order * High) + count);
    }

    /// <summary>Keeps a block of <paramref name="order"/> (0..CostlyOrder); false when the list is full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryPush(PageFrame* page, int order)
    {
        int pages = Pages + (1 << order);
        if (pages > High)
        {
            return false;
        }

        int count = _counts[order];
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_frames), (order * High) + count) = (nint)page;
        _counts[order] = count + 1;
        Pages = pages;
        return true;
    }

    /// <summary>Drops the <paramref name="count"/> coldest blocks of <paramref name="order"/>, which the caller has freed.</summary>
    public void RemoveOldest(int order, int count)
    {
        Array.Copy(_frames, (order * High) + count, _frames, order * High, _counts[order] - count);
        _counts[order] -= count;
        Pages -= count << order;
    }

    [InlineArray(CostlyOrder + 1)]
    private struct OrderCounts
    {
        private int _count;
    }
}
