// The slab layer's view of a page frame, as the kernel's struct slab overlays struct page (mm/slab.h): the bytes the
// page allocator leaves to a block's owner (PageFrame.OwnerAreaOffset on), read and written only here and in the
// layers that free into slabs. The head page of a slab has OwnerTag = SlabPage.OwnerTag and every field valid;
// its tail pages carry Cookie, KmallocClass and Colour too (0 on every page of a block that is not a slab), so a free
// checks an object's cache and start from the object's own page without finding the head. The slab's list links are
// the frame's Next/Prev, which the page allocator leaves to the owner of an allocated block.
using System.Runtime.InteropServices;

namespace SlabGen;

[StructLayout(LayoutKind.Explicit, Size = 64)]
internal unsafe struct SlabPage
{
    /// <summary>The owner tag of a slab's head page.</summary>
    public const byte OwnerTag = 1;

    /// <summary>
    /// The kmalloc size class of the owning cache, 1..20, or 0 for any other cache: Kfree's index into its per-thread
    /// table. On every page of the slab.
    /// </summary>
    [FieldOffset(PageFrame.OwnerAreaOffset)] public byte KmallocClass;

    /// <summary>The owning cache's id (head page).</summary>
    [FieldOffset(36)] public int CacheId;

    /// <summary>Objects of the slab not on its freelist (head page).</summary>
    [FieldOffset(40)] public int InUse;

    /// <summary>Byte offset of the slab's first object from the slab's start: its colour. On every page of the slab.</summary>
    [FieldOffset(44)] public int Colour;

    /// <summary>The slab's first free object; each free object holds the next at the cache's free-pointer offset (head page).</summary>
    [FieldOffset(48)] public byte* Freelist;

    /// <summary>
    /// The owning cache's cookie, never reused: lets Kfree reach the thread's array cache without the cache object,
    /// and lets KmemCache.Free check that an object is its own with one load from the object's page. On every page.
    /// </summary>
    [FieldOffset(56)] public long Cookie;

    /// <summary>The slab view of <paramref name="frame"/>.</summary>
    public static SlabPage* Of(PageFrame* frame) => (SlabPage*)frame;

    /// <summary>Whether the block <paramref name="head"/> heads is a slab.</summary>
    public static bool IsSlab(PageFrame* head) => head->Flags == PageFlags.Head && head->OwnerTag == OwnerTag;

    /// <summary>What a wrong FreePages of a slab is told.</summary>
    public static string Describe(PageFrame* head) =>
        $"is a live slab of cache '{CacheRegistry.Find(Of(head)->CacheId)?.Name ?? "?"}': its objects are freed with KmemCache.Free " +
        "(or Kmem.Kfree), and the cache gives the slab back (Shrink, Destroy)";
}
