// Arenas: the 4 MiB blocks of memory taken from the operating system, and the global section map that
// finds an arena from any address inside it in O(1) (the kernel's SPARSEMEM_EXTREME mem_section table).
// An arena from the OS lives in the arena space (ArenaSpace.cs) when it has room, its frames in the space's frame
// range, so the free fast paths find a frame by arithmetic; otherwise its frames follow its header in one native
// allocation, and a lent arena's live in the lent memory (Frames and FrameOf tell which from the address alone).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>
/// One arena: a max-order block, aligned to its size, and the descriptors of its pages. The header is allocated
/// natively; the page frames live in the arena space's frame range when the arena is in the space, else right after
/// the header in the same allocation (or the same lent memory), where the section map's lookups expect them.
/// </summary>
[StructLayout(LayoutKind.Sequential, Size = 64)]
internal unsafe struct Arena
{
    public const int Pages = 1 << PageAllocator.MaxOrder;
    public const int Shift = PageAllocator.PageShift + PageAllocator.MaxOrder;
    public const nuint Bytes = (nuint)1 << Shift;

    /// <summary>The first byte of the arena's memory.</summary>
    public byte* Base;

    /// <summary>The id of the owning <see cref="PageAllocator"/> (see <see cref="PageAllocator.Id"/>).</summary>
    public int OwnerId;

    /// <summary>1 for an arena over memory the caller owns (PageAllocator.Borrowed.cs): its header and frames live in that memory, and nothing is given back to the OS.</summary>
    public int Borrowed;

    /// <summary>The bytes of an arena's header and frames, a multiple of 64.</summary>
    public static nuint MetadataBytes => (nuint)(sizeof(Arena) + (Pages * sizeof(PageFrame)));

    /// <summary>The frame of the arena's first page: in the arena space's frame range, or right after the header.</summary>
    public PageFrame* Frames => FrameOf(Base);

    /// <summary>
    /// The frame of the page containing <paramref name="address"/>, an address inside this arena: by arithmetic in
    /// the arena space, else after the header. Neither loads the header, so the lookup does not wait for it.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public PageFrame* FrameOf(void* address)
    {
        PageFrame* page = ArenaSpace.FrameOf(address);
        return page != null ? page : FrameAfter((Arena*)Unsafe.AsPointer(ref this), address);
    }

    /// <summary>Where the frames of an arena outside the arena space are: right after its header.</summary>
    public static PageFrame* FramesAfter(Arena* arena) => (PageFrame*)(arena + 1);

    /// <summary>The frame of <paramref name="address"/> in <paramref name="arena"/>, an arena outside the space, without loading its header.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageFrame* FrameAfter(Arena* arena, void* address) =>
        FramesAfter(arena) + (((nuint)address >> PageAllocator.PageShift) & (Pages - 1));

    /// <summary>Takes a new arena from the OS, in the arena space when it has room; null when the OS refuses.</summary>
    public static Arena* Create(int ownerId)
    {
        Arena* arena;
        byte* memory = ArenaSpace.Take();
        bool inSpace = memory != null;
        try
        {
            if (!inSpace)
            {
                memory = (byte*)NativeMemory.AlignedAlloc(Bytes, Bytes);
            }

            // In the space the frames are the slot's (zero); elsewhere they follow the header.
            arena = (Arena*)NativeMemory.AlignedAlloc(inSpace ? (nuint)sizeof(Arena) : MetadataBytes, 64);
        }
        catch (OutOfMemoryException)
        {
            if (inSpace)
            {
                ArenaSpace.Release(memory);
            }
            else if (memory != null)
            {
                NativeMemory.AlignedFree(memory);
            }

            return null;
        }

        if (!inSpace)
        {
            NativeMemory.Clear(FramesAfter(arena), (nuint)(Pages * sizeof(PageFrame)));
        }

        arena->Base = memory;
        arena->OwnerId = ownerId;
        arena->Borrowed = 0;
        PageFrame* frames = arena->Frames;
        for (int i = 0; i < Pages; i++)
        {
            frames[i].Address = memory + ((nuint)i << PageAllocator.PageShift);
        }

        if (!SectionMap.Register(arena))
        {
            Free(arena);
            return null;
        }

        return arena;
    }

    /// <summary>
    /// Writes the header and frames of the arena of the 4 MiB section at <paramref name="sectionBase"/> at
    /// <paramref name="metadata"/> (caller memory, <see cref="MetadataBytes"/> long). Only under
    /// <see cref="SectionMap.RegisterBorrowed"/>, once every section the caller's block touches is known to be free:
    /// nothing is written into memory another allocator holds.
    /// </summary>
    public static Arena* InitBorrowed(byte* metadata, byte* sectionBase, int ownerId)
    {
        var arena = (Arena*)metadata;
        NativeMemory.Clear(arena, MetadataBytes);
        arena->Base = sectionBase;
        arena->OwnerId = ownerId;
        arena->Borrowed = 1;
        PageFrame* frames = FramesAfter(arena);
        for (int i = 0; i < Pages; i++)
        {
            frames[i].Address = sectionBase + ((nuint)i << PageAllocator.PageShift);
        }

        return arena;
    }

    /// <summary>Gives the arena back to the OS (a borrowed one only leaves the section map). The caller has removed it from every list.</summary>
    public static void Destroy(Arena* arena)
    {
        SectionMap.Unregister(arena);
        if (arena->Borrowed == 0)
        {
            Free(arena);
        }
    }

    /// <summary>Gives an arena that came from the OS back: its memory, frames and header.</summary>
    private static void Free(Arena* arena)
    {
        if (ArenaSpace.Contains(arena->Base))
        {
            ArenaSpace.Release(arena->Base);
        }
        else
        {
            NativeMemory.AlignedFree(arena->Base);
        }

        NativeMemory.AlignedFree(arena);
    }
}

/// <summary>
/// Maps an address to the arena that contains it, for every allocator in the process: a two-level radix
/// table over the 4 MiB sections of a 48-bit address space. Lookups take no lock; registration is rare
/// and serialised. Leaves are never freed (64 KiB each, one per 32 GiB of address space in use).
/// </summary>
internal static unsafe class SectionMap
{
    private const int AddressBits = 48;
    private const int SectionBits = AddressBits - Arena.Shift;
    private const int LeafBits = 13;
    private const int RootBits = SectionBits - LeafBits;
    private const nuint LeafMask = (1 << LeafBits) - 1;

    private static readonly Arena*** s_root = (Arena***)NativeMemory.AllocZeroed((nuint)1 << RootBits, (nuint)sizeof(nint));
    private static readonly Lock s_lock = new();

    /// <summary>The arena containing <paramref name="address"/>, or null.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Arena* Find(void* address)
    {
        nuint section = (nuint)address >> Arena.Shift;
        if (section >> SectionBits != 0)
        {
            return null;
        }

        Arena** leaf = s_root[section >> LeafBits];
        return leaf == null ? null : leaf[section & LeafMask];
    }

    /// <summary>Enters <paramref name="arena"/> for its section; false beyond a 48-bit address space.</summary>
    public static bool Register(Arena* arena)
    {
        nuint section = (nuint)arena->Base >> Arena.Shift;
        if (section >> SectionBits != 0)
        {
            return false; // beyond a 48-bit address space: not mappable, the caller treats it as OS failure
        }

        lock (s_lock)
        {
            Arena*** slot = &s_root[section >> LeafBits];
            if (*slot == null)
            {
                Volatile.Write(ref *(nint*)slot, (nint)NativeMemory.AllocZeroed((nuint)1 << LeafBits, (nuint)sizeof(nint)));
            }

            Volatile.Write(ref *(nint*)&(*slot)[section & LeafMask], (nint)arena);
        }

        return true;
    }

    /// <summary>
    /// Makes and registers the arenas of <paramref name="sections"/> sections from <paramref name="firstSection"/> over
    /// caller memory, their metadata side by side from <paramref name="metadata"/> (inside those sections): all or none,
    /// and nothing written unless every section is free and mappable, all under the map's lock so that two blocks
    /// claimed at once cannot both pass the check. Returns the arenas, or null with the first section that is taken.
    /// </summary>
    public static Arena*[]? RegisterBorrowed(byte* metadata, nuint firstSection, nuint sections, int ownerId, out nuint taken)
    {
        lock (s_lock)
        {
            for (nuint i = 0; i < sections; i++)
            {
                nuint section = firstSection + i;
                if (section >> SectionBits != 0 || Find((void*)(section << Arena.Shift)) != null)
                {
                    taken = section;
                    return null;
                }
            }

            var arenas = new Arena*[(int)sections];
            for (nuint i = 0; i < sections; i++)
            {
                arenas[i] = Arena.InitBorrowed(metadata + (i * Arena.MetadataBytes), (byte*)((firstSection + i) << Arena.Shift), ownerId);
                Register(arenas[i]);
            }

            taken = 0;
            return arenas;
        }
    }

    public static void Unregister(Arena* arena)
    {
        nuint section = (nuint)arena->Base >> Arena.Shift;
        lock (s_lock)
        {
            Volatile.Write(ref *(nint*)&s_root[section >> LeafBits][section & LeafMask], 0);
        }
    }
}
