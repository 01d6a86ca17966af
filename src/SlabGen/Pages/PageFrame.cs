// The page frame descriptor: one per 4 KiB page of every arena, the kernel's struct page.
//
// The page allocator owns the first 35 bytes: the list links, the address, the head link, the state and the order,
// and one byte, OwnerTag, that the layer which took a block sets on its head through PageAllocator.SetOwner (0 for
// a plain AllocPages block). The last 29 bytes are the owner's: the slab layer overlays them with its own view,
// SlabPage (Slab/SlabPage.cs, as the kernel's struct slab overlays struct page), on the head and tail pages of a slab.
// The page allocator never reads them; their owner zeroes them before the block goes back.
//
// States a page moves through (Flags, and which other fields mean something in each):
//
//   None       a page inside a free buddy block, but not its first page; no other field is valid.
//   Buddy      the first page of a free block on a buddy free list. Order = the block's order;
//              Next/Prev link the free list of that order (the kernel's page->buddy_list).
//   PerThread  the first page of a block of order 0..5 parked on a thread's list (the kernel's per-cpu
//              pages): not on a free list, not coalescable, not handed out. Order = the block's order;
//              its other pages stay as they were while allocated (Tail, or None above EagerTailMaxOrder), so a
//              round trip through the list rewrites one frame only.
//   Head       the first page of an allocated block. Order = the block's order. OwnerTag says which layer took
//              it (a slab, a large kmalloc block) and Next/Prev are the owner's to use (a slab cache's lists).
//   Tail       any other page of an allocated block of order 1..EagerTailMaxOrder. HeadPage = the block's first
//              page (the kernel's compound_head), so an interior pointer is recognised in O(1).
//
// Lazy tails: the other pages of a block above EagerTailMaxOrder (4) are not written when it is allocated or freed;
// they keep None, as inside a free block, so a 4 MiB block costs one frame, not 1,024. Its head is found from any of
// its pages by probing the page's aligned ancestors (LazyHead): buddy blocks are aligned to their size and never
// overlap, so the first ancestor that heads an allocated or parked block of at least that order is the block's head,
// exactly. Slabs (order 4 at most when efficient) keep eager tails: the slab layer writes each of their frames anyway.
//
// Transitions: Buddy -> Head (allocation, after expand has split off the unused halves as Buddy blocks);
// Head -> PerThread -> Head (small blocks through a thread's list); Head/PerThread -> Buddy or None
// (free, merging with the buddy at index ^ (1 << order) while that buddy is a free block of the same order).
// Only a holder of the zone lock sets or clears Buddy, so "is my buddy free?" read under the lock is exact.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>The state of a page, as the page allocator records it in its <see cref="PageFrame"/>.</summary>
[Flags]
public enum PageFlags : byte
{
    /// <summary>A page inside a free block that is not the block's first page.</summary>
    None = 0,

    /// <summary>The first page of a free block on a buddy free list (<c>PageBuddy</c>).</summary>
    Buddy = 1 << 0,

    /// <summary>The first page of a small free block cached on a thread's list (the kernel's per-cpu pages).</summary>
    PerThread = 1 << 1,

    /// <summary>The first page of an allocated block of any order (<c>PageHead</c>); <see cref="PageFrame.OwnerTag"/> says who took it.</summary>
    Head = 1 << 2,

    /// <summary>A page of an allocated block other than its first (<c>PageTail</c>).</summary>
    Tail = 1 << 3,
}

/// <summary>
/// The descriptor of one 4 KiB page (the kernel's <c>struct page</c>): its state, the order of the block
/// it heads, and the fields the layers above keep per page. One cache line per page, so the descriptors of
/// two blocks never share a line between threads.
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
public unsafe struct PageFrame
{
    /// <summary>Where the bytes of the block's owner begin (Slab/SlabPage.cs overlays them).</summary>
    internal const int OwnerAreaOffset = 35;

    /// <summary>List link: the buddy free list (Buddy), or the owner's (a slab cache's slab lists).</summary>
    [FieldOffset(0)] internal PageFrame* Next;

    /// <summary>List link: the buddy free list (Buddy), or the owner's.</summary>
    [FieldOffset(8)] internal PageFrame* Prev;

    [FieldOffset(16)] private byte* _address;

    /// <summary>The first page of the allocated block (Tail only).</summary>
    [FieldOffset(24)] internal PageFrame* HeadPage;

    [FieldOffset(32)] private PageFlags _flags;

    [FieldOffset(33)] private byte _ownerTag;

    /// <summary>The state and the owner tag as one word (little-endian: the state is the low byte).</summary>
    [FieldOffset(32)] private readonly ushort _flagsAndOwner;

    [FieldOffset(34)] private byte _order;

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

    /// <summary>
    /// Who took the block this page heads: 0 for a block from <see cref="PageAllocator.AllocPages"/>, else a tag the
    /// layer above set (a slab, a large kmalloc block), which <see cref="PageAllocator.FreePages"/> refuses to free.
    /// </summary>
    public readonly byte OwnerTag => _ownerTag;

    /// <summary>Whether this is the head of an allocated block no layer above has taken: what FreePages frees. One compare.</summary>
    internal readonly bool IsPlainHead => _flagsAndOwner == (ushort)PageFlags.Head;

    /// <summary>Sets <see cref="OwnerTag"/>: <see cref="PageAllocator.SetOwner"/> only, on a block's head.</summary>
    internal void SetOwnerTag(byte tag) => _ownerTag = tag;

    /// <summary>The largest order whose blocks get Tail frames; the pages of larger blocks keep None (lazy tails, above).</summary>
    internal const int EagerTailMaxOrder = 4;

    /// <summary>
    /// The frame of the first page of the allocated (or parked) block this page belongs to: itself for a head, HeadPage
    /// for a Tail, the probed head for a page of a block with lazy tails; itself for a page of a free block.
    /// </summary>
    internal PageFrame* Compound
    {
        get
        {
            var self = (PageFrame*)Unsafe.AsPointer(ref this);
            return _flags == PageFlags.Tail ? HeadPage : _flags == PageFlags.None && LazyHead(self) is var head && head != null ? head : self;
        }
    }

    /// <summary>
    /// The head of the block above <see cref="EagerTailMaxOrder"/> that covers <paramref name="page"/> (a None frame),
    /// or null when none does (the page is inside a free block or a hole): the first aligned ancestor that heads an
    /// allocated or parked block of at least the ancestor's order. Such a block's head is aligned to 2^(order), so the
    /// probe starts at EagerTailMaxOrder + 1; any lower head is a block with eager tails or a neighbour.
    /// </summary>
    internal static PageFrame* LazyHead(PageFrame* page)
    {
        nuint index = ((nuint)page->_address >> PageAllocator.PageShift) & (Arena.Pages - 1);
        PageFrame* frames = page - index;
        for (int order = EagerTailMaxOrder + 1; order <= PageAllocator.MaxOrder; order++)
        {
            PageFrame* candidate = frames + (index & ~(((nuint)1 << order) - 1));
            if (candidate->_order >= order && candidate->_flags is PageFlags.Head or PageFlags.PerThread)
            {
                return candidate;
            }
        }

        return null;
    }
}
