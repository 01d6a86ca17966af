// Per-thread lists of order-0 pages: the kernel's per-cpu pages (struct per_cpu_pages), per thread here.
// A free pushes onto the calling thread's list and an allocation pops from it, without a lock. When the
// list is full, its coldest Batch pages go back to the buddy lists under the zone lock. When the thread
// exits, its list becomes unreachable and its finalizer returns every page: none is lost.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

internal sealed unsafe class PerThreadPageList
{
    public const int DefaultHigh = 64;
    public const int MaxHigh = 1024;

    /// <summary>The calling thread's lists, indexed by <see cref="PageAllocator.Id"/>.</summary>
    [ThreadStatic]
    private static PerThreadPageList?[]? t_lists;

    /// <summary>PageFrame* of the cached pages; index 0 is the coldest.</summary>
    private readonly nint[] _frames;

    private PerThreadPageList(PageAllocator owner)
    {
        Owner = owner;
        High = owner.PerThreadPages;
        Batch = Math.Max(1, High / 2);
        _frames = new nint[High];
    }

    ~PerThreadPageList()
    {
        if (Count != 0)
        {
            Owner.ReturnPerThreadPages(this, Count);
        }
    }

    public PageAllocator Owner { get; }

    /// <summary>The most pages the list holds (the kernel's pcp->high).</summary>
    public int High { get; }

    /// <summary>How many pages go back to the buddy lists when the list is full (pcp->batch).</summary>
    public int Batch { get; }

    public int Count { get; private set; }

    public PageFrame* this[int index] => (PageFrame*)_frames[index];

    /// <summary>The calling thread's list for <paramref name="owner"/>, or null when it has none yet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PerThreadPageList? Find(int id, PageAllocator owner)
    {
        PerThreadPageList?[]? lists = t_lists;
        if (lists is null || (uint)id >= (uint)lists.Length)
        {
            return null;
        }

        PerThreadPageList? list = lists[id];
        return list is not null && list.Owner == owner ? list : null;
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

        PerThreadPageList?[]? lists = t_lists;
        if (lists is null || id >= lists.Length)
        {
            Array.Resize(ref lists, Math.Max(id + 1, (lists?.Length ?? 2) * 2));
            t_lists = lists;
        }

        // A list left in this slot by a disposed allocator is dropped; its finalizer sees the owner is gone.
        list = new PerThreadPageList(owner);
        lists[id] = list;
        return list;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageFrame* Pop()
    {
        int count = Count - 1;
        Count = count;
        return (PageFrame*)Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_frames), count);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Push(PageFrame* page)
    {
        int count = Count;
        Unsafe.Add(ref MemoryMarshal.GetArrayDataReference(_frames), count) = (nint)page;
        Count = count + 1;
    }

    /// <summary>Drops the <paramref name="count"/> coldest entries, which the caller has already freed.</summary>
    public void RemoveOldest(int count)
    {
        Array.Copy(_frames, count, _frames, 0, Count - count);
        Count -= count;
    }
}

/// <summary>Small, reused ids for allocators: the index of their per-thread lists.</summary>
internal static class AllocatorIds
{
    private static readonly Lock s_lock = new();
    private static readonly Stack<int> s_free = new();
    private static int s_next;

    public static int Take()
    {
        lock (s_lock)
        {
            return s_free.Count != 0 ? s_free.Pop() : s_next++;
        }
    }

    public static void Return(int id)
    {
        lock (s_lock)
        {
            s_free.Push(id);
        }
    }
}
