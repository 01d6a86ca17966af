// The depot of a slab cache (Bonwick and Adams, "Magazines and Vmem", USENIX 2001): full magazines that threads'
// array caches gave up, and empty ones for the next thread that needs room. A thread exchanges a whole magazine
// with it for one pointer, so a burst of allocations or frees costs one exchange per magazine, not a walk of slab
// freelists per object. It holds at most Capacity full magazines; past that, a full magazine's objects go back to
// their slabs. Shrink, a drain before a failing allocation and a memory-pressure trim empty it into the slabs.
using System.Runtime.InteropServices;

namespace SlabGen;

internal sealed unsafe class MagazineDepot
{
    /// <summary>Full magazines the depot holds at most (slabinfo's sharedfactor column).</summary>
    public const int Capacity = 16;

    private readonly MagazineRing _full = new(Capacity);
    private readonly MagazineRing _empty = new(Capacity);

    public MagazineDepot(int magazineSize) => MagazineSize = magazineSize;

    /// <summary>The rounds of one magazine: the cache's limit.</summary>
    public int MagazineSize { get; }

    /// <summary>Objects in full magazines now; exact only when nobody exchanges.</summary>
    public long Objects => (long)_full.Count * MagazineSize;

    /// <summary>A full magazine, or null when the depot has none.</summary>
    public nint* TakeFull() => _full.TryTake();

    /// <summary>Keeps a full magazine; false when the depot holds Capacity already.</summary>
    public bool PutFull(nint* magazine) => _full.TryPut(magazine);

    /// <summary>An empty magazine: one the depot kept, else a new one.</summary>
    public nint* TakeEmpty()
    {
        nint* magazine = _empty.TryTake();
        return magazine != null ? magazine : NewMagazine(MagazineSize);
    }

    /// <summary>Keeps an empty magazine for later, or frees it when the depot has enough.</summary>
    public void PutEmpty(nint* magazine)
    {
        if (!_empty.TryPut(magazine))
        {
            FreeMagazine(magazine);
        }
    }

    /// <summary>Frees every empty magazine kept.</summary>
    public void FreeEmpties()
    {
        nint* magazine;
        while ((magazine = _empty.TryTake()) != null)
        {
            FreeMagazine(magazine);
        }
    }

    public static nint* NewMagazine(int size) => (nint*)NativeMemory.Alloc((nuint)size, (nuint)sizeof(nint));

    public static void FreeMagazine(nint* magazine) => NativeMemory.Free(magazine);
}
