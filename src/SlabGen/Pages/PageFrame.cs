// The page frame descriptor: one per 4 KiB page of every arena, the kernel's struct page.
//
// States a page moves through (Flags, and which other fields mean something in each):
//
//   None       a page inside a free buddy block, but not its first page; no other field is valid.
//   Buddy      the first page of a free block on a buddy free list. Order = the block's order;
//              Next/Prev link the free list of that order (the kernel's page->buddy_list).
//   PerThread  the first page of a block of order 0..5 parked on a thread's list (the kernel's per-cpu
//              pages): not on a free list, not coalescable, not handed out. Order = the block's order;
//              its other pages stay Tail, so a round trip through the list rewrites one frame only.
//   Head       the first page of an allocated block. Order = the block's order.
//   Head|Slab  the first page of a block that is a slab of a KmemCache. Next/Prev link the cache's
//              empty, partial or full list; SlabCacheId, SlabCookie, SlabClass, SlabInUse, SlabColour and
//              SlabFreelist are valid. The slab's Tail pages carry SlabCookie, SlabClass and SlabColour too (0 on all
//              other pages), so a free checks an object's cache and start from its own page without finding the head.
//   Head|LargeKmalloc  the first page of a block that Kmem.Kmalloc handed out whole (above 8 KiB).
//   Tail       any other page of an allocated block (order > 0). HeadPage = the block's first page
//              (the kernel's compound_head), so an interior pointer is recognised in O(1).
//
// Transitions: Buddy -> Head (allocation, after expand has split off the unused halves as Buddy blocks);
// Head -> PerThread -> Head (small blocks through a thread's list); Head/PerThread -> Buddy or None
// (free, merging with the buddy at index ^ (1 << order) while that buddy is a free block of the same order).
// Only a holder of the zone lock sets or clears Buddy, so "is my buddy free?" read under the lock is exact.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>The state of a page, as recorded in its <see cref="PageFrame"/>.</summary>
[Flags]
public enum PageFlags : ushort
{
    /// <summary>A page inside a free block that is not the block's first page.</summary>
    None = 0,

    /// <summary>The first page of a free block on a buddy free list (<c>PageBuddy</c>).</summary>
    Buddy = 1 << 0,

    /// <summary>The first page of a small free block cached on a thread's list (the kernel's per-cpu pages).</summary>
    PerThread = 1 << 1,

    /// <summary>The first page of an allocated block of any order (<c>PageHead</c>).</summary>
    Head = 1 << 2,

    /// <summary>A page of an allocated block other than its first (<c>PageTail</c>).</summary>
    Tail = 1 << 3,

    /// <summary>With <see cref="Head"/>: the block is a slab of a <see cref="KmemCache"/> (<c>PageSlab</c>).</summary>
    Slab = 1 << 4,

    /// <summary>With <see cref="Head"/>: the block is a kmalloc allocation above 8 KiB, straight from the page allocator.</summary>
    LargeKmalloc = 1 << 5,
}

/// <summary>
/// The descriptor of one 4 KiB page (the kernel's <c>struct page</c>): its state, the order of the block
/// it heads, and the fields the layers above keep per page. One cache line per page, so the descriptors of
/// two blocks never share a line between threads.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public unsafe struct PageFrame
{
    /// <summary>List link: the buddy free list (Buddy) or the cache's slab list (Slab).</summary>
    [FieldOffset(0)] internal PageFrame* Next;

    /// <summary>List link: the buddy free list (Buddy) or the cache's slab list (Slab).</summary>
    [FieldOffset(8)] internal PageFrame* Prev;

    [FieldOffset(16)] private byte* _address;

    /// <summary>The first page of the allocated block (Tail only).</summary>
    [FieldOffset(24)] internal PageFrame* HeadPage;

    [FieldOffset(32)] private PageFlags _flags;

    [FieldOffset(34)] private byte _order;

    /// <summary>
    /// The kmalloc size class of the owning cache, 1..13, or 0 for any other cache: Kfree's index into its per-thread
    /// table. Set on every page of a slab, tails too, so Kfree reads it from the object's own page; 0 on every other page.
    /// </summary>
    [FieldOffset(35)] internal byte SlabClass;

    /// <summary>The owning cache's id (Slab).</summary>
    [FieldOffset(36)] internal int SlabCacheId;

    /// <summary>Objects of the slab not on its freelist (Slab).</summary>
    [FieldOffset(40)] internal int SlabInUse;

    /// <summary>Byte offset of the slab's first object from the slab's start: its colour (Slab; on its tail pages too).</summary>
    [FieldOffset(44)] internal int SlabColour;

    /// <summary>The slab's first free object; each free object holds the next at the cache's free-pointer offset (Slab).</summary>
    [FieldOffset(48)] internal byte* SlabFreelist;

    /// <summary>
    /// The owning cache's cookie, never reused: lets Kfree reach the thread's array cache without the cache object,
    /// and lets KmemCache.Free check that an object is its own with one load from the object's page. Set on every
    /// page of a slab, tails too; 0 on every other page.
    /// </summary>
    [FieldOffset(56)] internal long SlabCookie;

    /// <summary>The page's state; the page allocator and the layers above set it as the header says.</summary>
    public PageFlags Flags
    {
        readonly get => _flags;
        internal set => _flags = value;
    }

    /// <summary>
    /// The order of the block this page heads (Buddy, Head and PerThread pages); 0 otherwise.
    /// A block of order n is 2^n contiguous pages.
    /// </summary>
    public int Order
    {
        readonly get => _order;
        internal set => _order = (byte)value;
    }

    /// <summary>The address of the page this frame describes; fixed for the arena's lifetime.</summary>
    public byte* Address
    {
        readonly get => _address;
        internal set => _address = value;
    }

    /// <summary>The page frame number: the page's address divided by <see cref="PageAllocator.PageSize"/>.</summary>
    public readonly nuint Pfn => (nuint)_address >> PageAllocator.PageShift;

    /// <summary>For the first page of a slab: how many of its objects are allocated (or cached per thread); 0 otherwise.</summary>
    public readonly int SlabObjectsInUse => (_flags & PageFlags.Slab) != 0 ? SlabInUse : 0;

    /// <summary>For the first page of a slab: the offset of its first object, the slab's colour; 0 otherwise.</summary>
    public readonly int SlabColourOffset => (_flags & PageFlags.Slab) != 0 ? SlabColour : 0;

    /// <summary>For the first page of a slab: the cache it belongs to; <see langword="null"/> otherwise.</summary>
    public readonly KmemCache? SlabCache => (_flags & PageFlags.Slab) != 0 ? CacheRegistry.Find(SlabCacheId) : null;

    /// <summary>The frame of the first page of the allocated block this page belongs to (itself for a Head).</summary>
    internal PageFrame* Compound => _flags == PageFlags.Tail ? HeadPage : (PageFrame*)Unsafe.AsPointer(ref this);
}
