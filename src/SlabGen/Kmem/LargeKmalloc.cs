// kmalloc above 8 KiB: a whole block of the page allocator, its head frame tagged as kmalloc's. With debugging on for an
// allocator's large blocks (SLABGEN_SLAB_DEBUG naming "kmalloc-large", or "{name}-kmalloc-large" for a KmallocAllocator
// of that name, or a pattern such as "kmalloc-*"), they get what small objects get from their debug caches:
//   RedZone  the object starts one page into its block (a zone page before it) and at least a page of the block
//            follows it, as the largest order allows (a 4 MiB request gets neither, a request near it less after); both
//            zones are filled with 0xcc and checked byte by byte on free, so an underflow of up to a page and an
//            overflow of any size up to the block's end are reported.
//   Poison   a freed block is filled with 0x6b (last byte 0xa5) and kept back, poisoned, in a quarantine of a few
//            blocks instead of going back to the page allocator; the next debug allocation of its order takes it back
//            and checks it (a write after free is reported there), and a block leaving the quarantine is checked too.
// A debug block's object is page-aligned (not aligned to the block's size), and Ksize is the size asked for, as for a
// small debug object. The head frame's owner area (PageFrame.OwnerAreaOffset on) holds the object's offset, the size
// asked for and the block's state; it is zeroed before the block goes back.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

internal static unsafe class LargeKmalloc
{
    /// <summary>The owner tag of a block that kmalloc handed out whole (above 8 KiB).</summary>
    public const byte OwnerTag = 2;

    /// <summary>The suffix of the name SLABGEN_SLAB_DEBUG gives an allocator's large blocks: kmalloc-large, or {name}-kmalloc-large.</summary>
    public const string DebugName = "kmalloc-large";

    private const byte RedActive = 0xcc;
    private const byte PoisonFree = 0x6b;
    private const byte PoisonEnd = 0xa5;

    /// <summary>How many freed, poisoned debug blocks are kept back before the oldest is checked and given back.</summary>
    private const int QuarantineBlocks = 8;

    private static readonly Lock s_lock = new();
    private static readonly List<nint> s_quarantine = [];

    /// <summary>The large-block view of a head frame's owner area.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 64)]
    private struct LargeBlockPage
    {
        /// <summary>The object's offset from the block's start: 0, or a page for a red-zoned debug block.</summary>
        [FieldOffset(36)] public int Offset;

        /// <summary>A debug block's size asked for (0 for a plain block).</summary>
        [FieldOffset(40)] public int Requested;

        /// <summary>Plain, live debug, or quarantined debug.</summary>
        [FieldOffset(44)] public byte State;

        /// <summary>A debug block's flags: RedZone and Poison bits of SlabFlags.</summary>
        [FieldOffset(45)] public byte Debug;

        public static LargeBlockPage* Of(PageFrame* head) => (LargeBlockPage*)head;
    }

    private const byte Plain = 0, Live = 1, Quarantined = 2;
    private const byte RedZoneBit = 1, PoisonBit = 2;

    /// <summary>The debug bits for <paramref name="flags"/> (RedZone, Poison); 0 when neither applies.</summary>
    public static byte DebugBits(SlabFlags flags) =>
        (byte)(((flags & SlabFlags.RedZone) != 0 ? RedZoneBit : 0) | ((flags & SlabFlags.Poison) != 0 ? PoisonBit : 0));

    /// <summary>
    /// A kmalloc above 8 KiB from <paramref name="pages"/>, with the debug bits of its allocator (0: a plain block);
    /// <paramref name="name"/> names the allocator's large blocks (kmalloc-large) for a sampled one.
    /// </summary>
    public static void* Alloc(PageAllocator pages, nuint size, GfpFlags flags, byte debug, string name)
    {
        if (size > Kmem.MaxKmallocSize)
        {
            return null;
        }

        if (debug == 0)
        {
            int order = SlabLayout.GetOrder(size);
            void* block = Sampler.LargeGateFires() ? TrySample(name, size, flags, order) : null;
            if (block != null)
            {
                return block;
            }

            block = pages.AllocPages(order, flags);
            if (block != null)
            {
                PageAllocator.SetOwner(PageAllocator.HeadFrameOf(block), OwnerTag, &Describe);
            }

            return block;
        }

        return AllocDebug(pages, size, flags, debug);
    }

    /// <summary>
    /// The block in a large slot of the sampling pool when this allocation, whose gate fired, is the one sampled
    /// (Sampling/), else null.
    /// It is the pool's memory, outside <paramref name="name"/>'s page allocator and its cap, as a sampled small object
    /// is outside its slabs. The flags are checked as the page allocator would.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void* TrySample(string name, nuint size, GfpFlags flags, int order)
    {
        if (!Sampler.TakeLargeSample())
        {
            return null;
        }

        Gfp.Check(flags, "alloc_pages", null, order);
        return Sampler.Pool!.TryAllocLarge(name, size);
    }

    /// <summary>Frees a large block whose head is <paramref name="head"/>, at <paramref name="memory"/> (checked by <see cref="Problem"/> first).</summary>
    public static void Free(PageFrame* head, void* memory)
    {
        if (LargeBlockPage.Of(head)->State == Plain)
        {
            Release(head);
            return;
        }

        FreeDebug(head, (byte*)memory);
    }

    /// <summary>The usable size: the block, or the size asked for of a debug block.</summary>
    public static nuint UsableSize(PageFrame* head) =>
        LargeBlockPage.Of(head)->State == Plain ? (nuint)PageAllocator.PageSize << head->Order : (nuint)LargeBlockPage.Of(head)->Requested;

    /// <summary>What is wrong with <paramref name="memory"/> as a live large block with head <paramref name="head"/>, or null.</summary>
    public static string? Problem(PageFrame* head, void* memory)
    {
        if (head->Flags != PageFlags.Head || head->OwnerTag != OwnerTag)
        {
            return "not a live kmalloc allocation: it is a page-allocator block, free memory, or already freed (double free)";
        }

        LargeBlockPage* large = LargeBlockPage.Of(head);
        if (large->State == Quarantined)
        {
            return "double free: the large block is already freed (it waits, poisoned, in the debug quarantine)";
        }

        byte* start = head->Address + large->Offset;
        return start == memory ? null
            : $"interior pointer: it is {(byte*)memory - start} bytes into a {(large->State == Plain ? (nuint)PageAllocator.PageSize << head->Order : (nuint)large->Requested)}-byte kmalloc block";
    }

    /// <summary>Gives back every quarantined block of <paramref name="pages"/> (its KmallocAllocator, <paramref name="allocatorName"/>, is disposed), checking each.</summary>
    public static void FlushQuarantine(PageAllocator pages, string allocatorName)
    {
        string? report = null;
        lock (s_lock)
        {
            for (int i = s_quarantine.Count - 1; i >= 0; i--)
            {
                var head = (PageFrame*)s_quarantine[i];
                if (PageAllocator.OwnerOf(head->Address) == pages)
                {
                    s_quarantine.RemoveAt(i);
                    report ??= CheckPoison(head, "when the allocator was disposed");
                    Release(head);
                }
            }
        }

        if (report is not null)
        {
            SlabGenEventSource.Log.FreedBlockWritten(allocatorName, report);
        }
    }

    private static void* AllocDebug(PageAllocator pages, nuint size, GfpFlags flags, byte debug)
    {
        // A page of zone before the object and at least a page after it (a size that fills its block exactly would
        // otherwise have none), as far as the largest order allows: then less after it, then nothing before it.
        bool zoned = (debug & RedZoneBit) != 0;
        const nuint Page = PageAllocator.PageSize;
        int offset = zoned && size + Page <= Kmem.MaxKmallocSize ? (int)Page : 0;
        int order = SlabLayout.GetOrder(size + (nuint)offset + (zoned ? Page : 0));
        if (order > PageAllocator.MaxOrder)
        {
            order = SlabLayout.GetOrder(size + (nuint)offset);
        }

        PageFrame* head = TakeQuarantined(order, out string? useAfterFree);
        if (useAfterFree is not null)
        {
            throw new InvalidOperationException($"kmalloc({size}): {useAfterFree}. The block was given back to the page allocator.");
        }

        if (head == null)
        {
            void* block = pages.AllocPages(order, flags & ~GfpFlags.Zero);
            if (block == null)
            {
                return null;
            }

            head = PageAllocator.HeadFrameOf(block);
            PageAllocator.SetOwner(head, OwnerTag, &Describe);
        }

        LargeBlockPage* large = LargeBlockPage.Of(head);
        large->Offset = offset;
        large->Requested = (int)size;
        large->State = Live;
        large->Debug = debug;
        byte* start = head->Address + offset;
        if (zoned)
        {
            NativeMemory.Fill(head->Address, (nuint)offset, RedActive);
            NativeMemory.Fill(start + size, BlockBytes(head) - (nuint)offset - size, RedActive);
        }

        if ((flags & GfpFlags.Zero) != 0)
        {
            NativeMemory.Clear(start, size);
        }

        return start;
    }

    /// <summary>A quarantined block of <paramref name="order"/> taken back for reuse, its poison checked; null when there is none.</summary>
    private static PageFrame* TakeQuarantined(int order, out string? useAfterFree)
    {
        useAfterFree = null;
        lock (s_lock)
        {
            for (int i = 0; i < s_quarantine.Count; i++)
            {
                var head = (PageFrame*)s_quarantine[i];
                if (head->Order != order)
                {
                    continue;
                }

                s_quarantine.RemoveAt(i);
                useAfterFree = CheckPoison(head, "when it was allocated again");
                if (useAfterFree is null)
                {
                    return head;
                }

                Release(head);
                return null;
            }
        }

        return null;
    }

    private static void FreeDebug(PageFrame* head, byte* start)
    {
        LargeBlockPage* large = LargeBlockPage.Of(head);
        string? problem, evicted = null;
        int requested;
        lock (s_lock)
        {
            // Under the lock: of two racing frees of one block, the second finds it quarantined or gone.
            if (large->State != Live || head->OwnerTag != OwnerTag)
            {
                Throw("kfree", start, "double free: the large block is already freed");
            }

            requested = large->Requested;
            problem = (large->Debug & RedZoneBit) != 0 ? CheckZones(head, start, requested) : null;
            if ((large->Debug & PoisonBit) != 0)
            {
                NativeMemory.Fill(start, (nuint)requested - 1, PoisonFree);
                start[requested - 1] = PoisonEnd;
                large->State = Quarantined;
                s_quarantine.Add((nint)head);
                if (s_quarantine.Count > QuarantineBlocks)
                {
                    var oldest = (PageFrame*)s_quarantine[0];
                    s_quarantine.RemoveAt(0);
                    evicted = CheckPoison(oldest, "when it left the quarantine");
                    Release(oldest);
                }
            }
            else
            {
                Release(head);
            }
        }

        if (problem is not null)
        {
            throw new InvalidOperationException($"kfree(0x{(nuint)start:x}): {problem} (a buffer {(problem.Contains("before", StringComparison.Ordinal) ? "underflow" : "overflow")} of the {requested}-byte object). The block was freed.");
        }

        if (evicted is not null)
        {
            throw new InvalidOperationException($"kfree: {evicted}. That block was given back to the page allocator; the one at 0x{(nuint)start:x} was freed.");
        }
    }

    /// <summary>The first zone byte of a live debug block that is not 0xcc, described; null when both zones are intact.</summary>
    private static string? CheckZones(PageFrame* head, byte* start, int requested)
    {
        var before = new ReadOnlySpan<byte>(head->Address, (int)(start - head->Address));
        int under = before.LastIndexOfAnyExcept(RedActive);
        if (under >= 0)
        {
            return $"red zone overwritten: byte {before.Length - under} before the start was 0x{before[under]:x2}, expected 0x{RedActive:x2}";
        }

        var after = new ReadOnlySpan<byte>(start + requested, (int)(BlockBytes(head) - (nuint)(start - head->Address) - (nuint)requested));
        int over = after.IndexOfAnyExcept(RedActive);
        return over < 0 ? null : $"red zone overwritten: byte {over} past the end was 0x{after[over]:x2}, expected 0x{RedActive:x2}";
    }

    /// <summary>The first byte of a quarantined block's object that is not its poison, described; null when intact.</summary>
    private static string? CheckPoison(PageFrame* head, string when)
    {
        LargeBlockPage* large = LargeBlockPage.Of(head);
        byte* start = head->Address + large->Offset;
        int requested = large->Requested;
        int bad = new ReadOnlySpan<byte>(start, requested - 1).IndexOfAnyExcept(PoisonFree);
        if (bad < 0 && start[requested - 1] != PoisonEnd)
        {
            bad = requested - 1;
        }

        return bad < 0 ? null
            : $"use after free: byte {bad} of the freed {requested}-byte kmalloc block at 0x{(nuint)start:x} was 0x{start[bad]:x2}, " +
              $"expected 0x{(bad == requested - 1 ? PoisonEnd : PoisonFree):x2} (found {when})";
    }

    /// <summary>Clears the owner area and the tag and gives the block back to the page allocator it came from.</summary>
    private static void Release(PageFrame* head)
    {
        LargeBlockPage* large = LargeBlockPage.Of(head);
        large->Offset = 0;
        large->Requested = 0;
        large->State = Plain;
        large->Debug = 0;
        PageAllocator.SetOwner(head, 0);
        PageAllocator.OwnerOf(head->Address)!.FreePages(head->Address, head->Order);
    }

    private static nuint BlockBytes(PageFrame* head) => (nuint)PageAllocator.PageSize << head->Order;

    /// <summary>What a wrong FreePages of a large kmalloc block is told.</summary>
    private static string Describe(PageFrame* head) => "is a live kmalloc allocation: free it with Kmem.Kfree";

    [DoesNotReturn]
    public static void Throw(string operation, void* memory, string problem) =>
        throw new ArgumentException($"{operation}(0x{(nuint)memory:x}): {problem}.", nameof(memory));
}
