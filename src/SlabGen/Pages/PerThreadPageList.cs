// Per-thread lists of small blocks: the kernel's per-cpu pages (struct per_cpu_pages), per thread here.
// A free of a block of order <= MaxListOrder pushes onto the calling thread's stack for that order, and an
// allocation pops from it, without a lock or an atomic. The thread holds at most High pages in all; when a push
// would pass that, the coldest half of every stack goes back to the buddy lists under the zone lock. Any thread
// can take a list's blocks back (a drain, PerThread/): Trim, DrainPerThreadPages and a failing allocation do.
//
// The block (PerThreadBlock.cs) is found through ThreadSlots by the allocator's id:
//   [header: Cookie Busy State Capacity Limit InterruptDepth* Count][Count 0..5][frames of order 0 (High)] … [order 5 (High)]
//   Count = pages held, all orders together; Capacity = High (0 while a drain holds the list).
using System.Runtime.CompilerServices;

namespace SlabGen;

internal sealed unsafe class PerThreadPageList : PerThreadState
{
    public const int DefaultHigh = 64;
    public const int MaxHigh = 1024;

    /// <summary>
    /// The largest order kept per thread. The kernel's PAGE_ALLOC_COSTLY_ORDER is 3; 5 lets kmalloc's page blocks
    /// up to 128 KiB skip the zone lock (docs/pages.md), while High still bounds the pages a thread holds.
    /// </summary>
    public const int MaxListOrder = 5;

    private const int CountsIndex = PerThreadBlock.HeaderWords;
    private const int FramesIndex = CountsIndex + MaxListOrder + 1;

    /// <summary>Blocks drains took, each a frame pointer with its order in the low bits (frames are 64-byte aligned); guarded by itself.</summary>
    private readonly List<nint> _taken = [];

    /// <summary>The owner's flush buffer (TakeColdestHalf); only the owning thread touches it.</summary>
    private readonly List<nint> _coldest = [];

    /// <summary>Per order, how far a drain took, until the owner reconciles (PerThreadBlock.cs).</summary>
    private readonly int[] _seen = new int[MaxListOrder + 1];

    private PerThreadPageList(PageAllocator owner, long cookie)
        : base(cookie, owner.PerThreadPages, FramesIndex + ((MaxListOrder + 1) * owner.PerThreadPages))
    {
        Allocator = owner;
        High = owner.PerThreadPages;
    }

    public PageAllocator Allocator { get; }

    /// <summary>The most pages the thread holds, all orders together (the kernel's pcp->high).</summary>
    public int High { get; }

    /// <summary>The pages held, all orders together (not those a drain took); exact only when the thread is not allocating or freeing.</summary>
    public int Pages
    {
        get
        {
            int pages = 0;
            for (int order = 0; order <= MaxListOrder; order++)
            {
                pages += Count(order) << order;
            }

            return pages;
        }
    }

    /// <summary>How many blocks of <paramref name="order"/> are held (not those a drain took).</summary>
    public int Count(int order) => Math.Max(0, Held(order) - (IsTaken ? Volatile.Read(ref _seen[order]) : 0));

    /// <summary>The calling thread's list for <paramref name="owner"/>, or null when it has none yet.</summary>
    public static PerThreadPageList? Find(int id, PageAllocator owner) =>
        ThreadSlots.Owner(id) is PerThreadPageList list && list.Allocator == owner ? list : null;

    /// <summary>The calling thread's list for <paramref name="owner"/>, made and registered on first use; null once the allocator is disposed.</summary>
    public static PerThreadPageList? GetOrCreate(PageAllocator owner, PerThreadRegistry<PerThreadPageList> registry, long cookie)
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
        if (!registry.Add(list))
        {
            return null;
        }

        ThreadSlots.Set(id, list, list.Block);
        return list;
    }

    /// <summary>Whether blocks of <paramref name="order"/> are kept on the lists: small enough that half the list holds one.</summary>
    public bool Caches(int order) => order <= MaxListOrder && (2 << order) <= High;

    /// <summary>
    /// The hottest free block of <paramref name="order"/> (0..MaxListOrder) on the thread's page list (its per-thread
    /// block), or null when there is none or a drain has the list. The count store comes before the State load: that order is the drain handshake (PerThreadBlock.cs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageFrame* TryPop(nint* block, int order, int high)
    {
        nint count = block[CountsIndex + order];
        if (count > 0)
        {
            Volatile.Write(ref block[CountsIndex + order], count - 1);
            if (PerThreadBlock.IsOpen(block))
            {
                PerThreadBlock.Header(block)->Count -= 1 << order;
                return (PageFrame*)block[FramesIndex + (order * high) + count - 1];
            }

            Volatile.Write(ref block[CountsIndex + order], count);
        }

        return null;
    }

    /// <summary>
    /// Keeps a free block of <paramref name="order"/> (0..MaxListOrder) on the thread's page list (its per-thread block)
    /// and marks its frame PerThread; false (and nothing changed) when the list is full or a drain has it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryPush(nint* block, PageFrame* page, int order, int high)
    {
        nint pages = PerThreadBlock.Header(block)->Count + (1 << order);
        if (pages <= Volatile.Read(ref PerThreadBlock.Header(block)->Capacity))
        {
            // Marked before the count publishes the block: once a drain sees it, it may free it.
            page->Flags = PageFlags.PerThread;
            nint count = block[CountsIndex + order];
            block[FramesIndex + (order * high) + count] = (nint)page;
            Volatile.Write(ref block[CountsIndex + order], count + 1);
            PerThreadBlock.Header(block)->Count = pages;
            return true;
        }

        return false;
    }

    /// <summary>
    /// Owner side, in a slow-path step: removes the coldest half of each order (rounded up), which always leaves room
    /// for one more block of any cached order. Returns them in a list of the owner's own, reused by every flush, so
    /// a flush allocates nothing; the caller gives them back before the next one.
    /// </summary>
    public List<nint> TakeColdestHalf()
    {
        _coldest.Clear();
        for (int order = 0; order <= MaxListOrder; order++)
        {
            TakeOldest(order, (Held(order) + 1) / 2, _coldest);
        }

        return _coldest;
    }

    /// <inheritdoc/>
    public override void TakeAllAsHolder()
    {
        lock (_taken)
        {
            for (int order = 0; order <= MaxListOrder; order++)
            {
                int start = _seen[order];
                int end = Math.Max(start, Held(order));
                foreach (nint frame in Frames(order, start, end - start))
                {
                    _taken.Add(frame | order);
                }

                _seen[order] = end;
            }
        }
    }

    /// <inheritdoc/>
    public override void TakeAllAsOwner()
    {
        lock (_taken)
        {
            for (int order = 0; order <= MaxListOrder; order++)
            {
                TakeOldest(order, Held(order), _taken);
            }
        }
    }

    /// <inheritdoc/>
    protected override void Reconcile()
    {
        nint pages = 0;
        for (int order = 0; order <= MaxListOrder; order++)
        {
            int taken = _seen[order];
            int present = Math.Max(0, Held(order) - taken);
            Frames(order, taken, present).CopyTo(Frames(order, 0, present));
            Block[CountsIndex + order] = present;
            _seen[order] = 0;
            pages += present << order;
        }

        PerThreadBlock.Header(Block)->Count = pages;
    }

    /// <inheritdoc/>
    public override void ReturnTaken()
    {
        List<nint> blocks;
        lock (_taken)
        {
            blocks = [.. _taken];
            _taken.Clear();
        }

        if (blocks.Count != 0)
        {
            Allocator.ReturnBlocks(blocks);
        }
    }

    /// <summary>A taken block's frame.</summary>
    public static PageFrame* FrameOf(nint taken) => (PageFrame*)(taken & ~(nint)63);

    /// <summary>A taken block's order.</summary>
    public static int OrderOf(nint taken) => (int)(taken & 63);

    /// <summary>The blocks of <paramref name="order"/> as the block counts them (taken ones included until reconciled).</summary>
    private int Held(int order) => (int)Volatile.Read(ref Block[CountsIndex + order]);

    private Span<nint> Frames(int order, int start, int count) => new(Block + FramesIndex + (order * High) + start, count);

    /// <summary>Owner side, in a slow-path step (the list open): removes the <paramref name="count"/> coldest blocks of an order into <paramref name="into"/>.</summary>
    private void TakeOldest(int order, int count, List<nint> into)
    {
        Span<nint> frames = Frames(order, 0, Held(order));
        foreach (nint frame in frames[..count])
        {
            into.Add(frame | order);
        }

        frames[count..].CopyTo(frames);
        Block[CountsIndex + order] -= count;
        PerThreadBlock.Header(Block)->Count -= count << order;
    }
}
