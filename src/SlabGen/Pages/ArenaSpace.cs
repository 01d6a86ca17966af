// The arena space: one range of virtual addresses reserved at start-up for the arenas the OS gives, and a second,
// parallel range for their page frames, so a frame is found from an address by arithmetic alone (the kernel's
// SPARSEMEM_VMEMMAP: virt_to_page is a subtraction and a shift, no table walk):
//
//     frame = Frames + (address - Base) / PageSize        when address - Base < Bytes
//
// Slot s of the space holds the arena at Base + s × 4 MiB, and its 1,024 frames at Frames + s × 1,024. The data range
// is reserved inaccessible (PROT_NONE) and a slot is made readable and writable when an arena takes it, inaccessible
// again when the arena goes back (after MADV_DONTNEED gave its pages back to the OS). The frame range is mapped
// readable and writable without reserving swap (MAP_NORESERVE): a page of it the allocator never wrote reads as zeros,
// so the frames of a slot no arena holds read as zero (state None, no owner, no cookie, kmalloc class 0), which every
// free fast path refuses, and no address in the range can fault on a lookup. A released slot's frames are zeroed the
// same way (MADV_DONTNEED).
//
// Only the frame lookup is arithmetic: every arena, in the space or not, is also entered in the section map
// (Arena.cs), which stays the authority on which arena, and which allocator, holds an address. Arenas outside the
// space keep the map for their frames too: memory a caller lends (PageAllocator.Borrowed.cs, pinned pools), arenas
// beyond the space's 16,384 slots, and every arena on a platform where the space is not reserved (anything but Linux,
// a refused reservation, strict overcommit accounting, or SLABGEN_DISABLE_ARENA_SPACE=1).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>The reserved ranges for arenas and their frames (see the file header); Bytes is 0 when none was reserved.</summary>
internal static unsafe class ArenaSpace
{
    /// <summary>The arenas the space holds at most: 64 GiB of address space, 1 GiB of frame space (neither committed).</summary>
    public const int Slots = 16_384;

    /// <summary>The first byte of the data range (aligned to an arena), or 0.</summary>
    public static readonly nuint Base;

    /// <summary>The bytes of the data range, or 0 when no space was reserved: then every lookup takes the section map.</summary>
    public static readonly nuint Bytes;

    /// <summary>The frame of the space's first page, as an address (a pointer field would not be folded into the code).</summary>
    public static readonly nuint Frames;

    private static readonly Lock s_lock = new();
    private static readonly Stack<int> s_released = new();
    private static int s_used;

    static ArenaSpace()
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable("SLABGEN_DISABLE_ARENA_SPACE") == "1" || StrictOvercommit())
        {
            return;
        }

        nuint bytes = unchecked((nuint)Slots * Arena.Bytes);
        nuint frameBytes = (nuint)Slots * Arena.Pages * (nuint)sizeof(PageFrame);
        byte* data = Map(bytes + Arena.Bytes, ProtNone);
        if (data == null)
        {
            return;
        }

        byte* frames = Map(frameBytes, ProtReadWrite);
        if (frames == null)
        {
            Unmap(data, bytes + Arena.Bytes);
            return;
        }

        // Aligned to an arena: the slack before and after the aligned range goes back.
        nuint aligned = ((nuint)data + Arena.Bytes - 1) & ~(Arena.Bytes - 1);
        if (aligned != (nuint)data)
        {
            Unmap(data, aligned - (nuint)data);
        }

        Unmap((byte*)aligned + bytes, (nuint)data + Arena.Bytes - aligned);
        Base = aligned;
        Bytes = bytes;
        Frames = (nuint)frames;
    }

    /// <summary>
    /// The frame of the page containing <paramref name="address"/> by arithmetic when it is in the space (a slot no
    /// arena holds gives an all-zero frame), else null.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageFrame* FrameOf(void* address)
    {
        nuint offset = (nuint)address - Base;
        return offset < Bytes ? FrameAt(offset) : null;
    }

    /// <summary>The frame of the page <paramref name="offset"/> bytes into the data range (which the caller checked).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static PageFrame* FrameAt(nuint offset) => (PageFrame*)Frames + (offset >> PageAllocator.PageShift);

    /// <summary>Whether <paramref name="address"/> is in the space's data range.</summary>
    public static bool Contains(void* address) => (nuint)address - Base < Bytes;

    /// <summary>
    /// Takes a free slot and makes its memory usable: the arena's memory (its frames, at <see cref="FrameOf"/>, read
    /// zero). Null when the space is not reserved, is full, or the OS refuses.
    /// </summary>
    public static byte* Take()
    {
        if (Bytes == 0)
        {
            return null;
        }

        int slot;
        lock (s_lock)
        {
            if (!s_released.TryPop(out slot))
            {
                if (s_used == Slots)
                {
                    return null;
                }

                slot = s_used++;
            }
        }

        byte* memory = (byte*)(Base + ((nuint)slot * Arena.Bytes));
        if (Protect(memory, Arena.Bytes, ProtReadWrite) != 0)
        {
            lock (s_lock)
            {
                s_released.Push(slot);
            }

            return null;
        }

        return memory;
    }

    /// <summary>Gives an arena's memory back to the OS and zeroes its frames; its slot can be taken again.</summary>
    public static void Release(byte* memory)
    {
        nuint slot = ((nuint)memory - Base) / Arena.Bytes;
        PageFrame* frames = (PageFrame*)Frames + (slot * Arena.Pages);
        if (Mman.madvise((nint)frames, Arena.Pages * (nuint)sizeof(PageFrame), MadvDontNeed) != 0)
        {
            NativeMemory.Clear(frames, Arena.Pages * (nuint)sizeof(PageFrame)); // a free slot's frames must read zero
        }

        // Best effort: memory the OS keeps, or a slot left accessible, is only memory held until the slot is taken again.
        _ = Mman.madvise((nint)memory, Arena.Bytes, MadvDontNeed);
        _ = Protect(memory, Arena.Bytes, ProtNone);
        lock (s_lock)
        {
            s_released.Push((int)slot);
        }
    }

    /// <summary>
    /// Gives the pages of [<paramref name="memory"/>, + <paramref name="bytes"/>) back to the OS, their contents lost
    /// (private memory reads zero when next touched; a shared file mapping rereads the file): MADV_DONTNEED, on Linux only.
    /// </summary>
    /// <returns>Whether the OS took them.</returns>
    public static bool Discard(void* memory, nuint bytes) => OperatingSystem.IsLinux() && Mman.madvise((nint)memory, bytes, MadvDontNeed) == 0;

    /// <summary>
    /// Whether the kernel accounts every writable private mapping against a commit limit (vm.overcommit_memory = 2):
    /// there MAP_NORESERVE is ignored and the 1 GiB frame range would take that much of the limit, so no space is made.
    /// </summary>
    private static bool StrictOvercommit()
    {
        try
        {
            return File.ReadAllText("/proc/sys/vm/overcommit_memory").Trim() == "2";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private const int ProtNone = Mman.ProtNone;
    private const int ProtReadWrite = Mman.ProtReadWrite;
    private const int MapPrivateAnonymousNoReserve = Mman.MapPrivateAnonymous | Mman.MapNoReserve;
    private const int MadvDontNeed = Mman.MadvDontNeed;

    private static byte* Map(nuint bytes, int protection)
    {
        nint result = Mman.mmap(0, bytes, protection, MapPrivateAnonymousNoReserve, -1, 0);
        return result == -1 ? null : (byte*)result;
    }

    private static void Unmap(byte* address, nuint bytes)
    {
        if (bytes != 0)
        {
            _ = Mman.munmap((nint)address, bytes); // slack of the reservation: a failure only leaves it reserved
        }
    }

    private static int Protect(void* address, nuint bytes, int protection) => Mman.mprotect((nint)address, bytes, protection);
}
