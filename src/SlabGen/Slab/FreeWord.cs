// The free word: one word of every slab object that says whether the object is free, and where. It lives at the
// cache's free-pointer offset (SlabLayout.FreePointerOffset: the object's first word, or the word after the object
// for a constructor cache, so constructed state is kept). Every read and write of it is in this file; the fast paths
// (ArrayCache.TryPop/TryPush), the slab lists, the exact double-free check, live-object enumeration and the debug
// caches call these functions, which the JIT inlines to the same instructions as before.
//
// States, with tag = the cache's secret FreeTag and the slab aligned to its size:
//
//   state        word                                            written by
//   allocated    0 (or whatever the owner wrote over it)         a pop (MarkAllocated), a debug allocation
//   cached       obj ^ tag                                       a push onto a thread's stack; objects taken off a
//                                                                slab for a stack or a magazine (MarkCached)
//   on freelist  next ^ tag: the slab's next free object, or     a free to the slab (SetNext), a new slab
//                the slab's base + 1 at the end (odd: inside
//                the slab, never an object's address)
//
// The O(1) test of every free (MayBeFree): the word of a free object decodes into the object's own slab,
// (word ^ tag ^ obj) & slabMask == 0. An allocated object's word decodes there only if its owner happened to write
// such a value (then the slow path looks: IsCached, else a bounded walk of the slab's freelist, KmemCache.ThrowIfFree,
// and frees it normally). The same test, negated, tells live objects apart in an enumeration (IsLive).
// With the free checks off (SLABGEN_DISABLE_FREE_CHECKS) the fast paths neither read nor write the word, and objects
// leaving a slab get 0 (MarkAllocated), so enumeration stays exact.
using System.Runtime.CompilerServices;

namespace SlabGen;

internal static unsafe class FreeWord
{
    /// <summary>What <see cref="Next"/> returns for a word that is neither an object's address nor its slab's end mark.</summary>
    public const nint CorruptPointer = 1;

    /// <summary>The free word of <paramref name="obj"/>, at <paramref name="offset"/> bytes into it.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint* Of(void* obj, nint offset) => (nint*)((byte*)obj + offset);

    /// <summary>Allocated: the word no longer says "free".</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MarkAllocated(void* obj, nint offset) => *Of(obj, offset) = 0;

    /// <summary>The word of a cached object (on a thread's stack or in a magazine).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint Cached(void* obj, nint tag) => (nint)obj ^ tag;

    /// <summary>Cached: on its way to (or on) a thread's stack or a magazine.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MarkCached(void* obj, nint offset, nint tag) => *Of(obj, offset) = Cached(obj, tag);

    /// <summary>The O(1) test: whether <paramref name="word"/>, the free word of <paramref name="obj"/>, decodes into the object's own slab.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool MayBeFree(nint word, void* obj, nint tag, nint slabMask) => ((word ^ tag ^ (nint)obj) & slabMask) == 0;

    /// <summary>Whether the object in a slot is allocated: the negation of <see cref="MayBeFree"/>, read in place.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsLive(void* obj, nint offset, nint tag, nint slabMask) => !MayBeFree(*Of(obj, offset), obj, tag, slabMask);

    /// <summary>Whether the word is exactly a cached object's (the first half of the exact check).</summary>
    public static bool IsCached(void* obj, nint offset, nint tag) => *Of(obj, offset) == Cached(obj, tag);

    /// <summary>On its slab's freelist, before <paramref name="next"/> (null: the last, marked by the slab's base + 1).</summary>
    public static void SetNext(void* obj, nint offset, nint tag, byte* next, byte* slabBase) =>
        *Of(obj, offset) = (next != null ? (nint)next : (nint)slabBase + 1) ^ tag;

    /// <summary>
    /// The object after <paramref name="obj"/> on its slab's freelist, null at the end, or <see cref="CorruptPointer"/>
    /// when the word is neither (not 8-byte aligned, or an odd value that is not this slab's end mark). The caller still
    /// checks that an address is an object of the slab.
    /// </summary>
    public static byte* Next(void* obj, nint offset, nint tag, nint slabMask)
    {
        nint next = Decode(obj, offset, tag);
        nint end = ((nint)obj & slabMask) + 1;
        return next == end ? null : (next & 7) != 0 ? (byte*)CorruptPointer : (byte*)next;
    }

    /// <summary>The word decoded, whatever it holds: for reports of a corrupted freelist.</summary>
    public static nint Decode(void* obj, nint offset, nint tag) => *Of(obj, offset) ^ tag;
}
