// The sampling pool (the kernel's KFENCE, mm/kfence/core.c): 255 slots of one page each, every data page between two
// guard pages, then 8 slots of 4 MiB for larger objects (kmalloc above a page, slab objects larger than a page), laid
// out the same way with 4 MiB units, in one mapping:
//     [guard 0][data 0][guard 1] … [data 254][guard 255] | [GUARD 0][DATA 0][GUARD 1] … [DATA 7][GUARD 8]
//     unit u of a region: a guard when u is even, else the data of the region's slot (u-1)/2
// A sampled allocation takes the slot freed longest ago, makes the pages its object needs readable and writable, and
// places the object against the guard on its right or on its left (alternating): an access past the end or before the
// start faults at once. The rest of those pages is filled with a pattern (0xaa ^ (address & 7), KFENCE's) and checked
// on free, for the small overflows the alignment leaves. A freed slot's pages are made inaccessible again (a large
// slot's given back to the OS too) and the slot goes to the back of its queue, so a use after free faults for as long
// as the other slots last.
// Every half unit has a report (1,024 bytes: length, the object it concerns, text), rewritten whenever a slot next to
// it changes, for the fault handler (FaultReporter.cs) to print as it is: which object, which cache, where it was
// allocated and freed. Half units, so that a guard between two objects blames the nearer one; in a large data unit the
// pages the object does not use are inaccessible too, and blame it as out of bounds.
//
// Where pages cannot be protected (anything but Linux), the one-page slots run on canaries: guard pages hold the
// pattern too and are checked with the page on free, and a freed page is filled with 0x6b and checked when its slot is
// taken again, as the Poison debug mode does. There are no large slots there (4 MiB of canaries each would be memory,
// not address space).
//
// Everything here is the slow path of a sampled allocation or free: one lock, a few system calls, a stack capture.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;

namespace SlabGen;

internal sealed unsafe class SamplePool
{
    /// <summary>KFENCE's default number of objects: the one-page slots.</summary>
    public const int DefaultSlots = 255;

    /// <summary>The slots for objects larger than a page (GWP-ASan keeps 16 for all sizes; large samples are rarer).</summary>
    public const int DefaultLargeSlots = 8;

    /// <summary>The bytes of one half unit's report: 8 (length), 8 (the object), text.</summary>
    public const int ReportBytes = 1024;

    /// <summary>The largest sampled object: a large slot's data, the largest kmalloc.</summary>
    public const int LargeSlotBytes = 4 << 20;

    private const int PageSize = PageAllocator.PageSize;
    private const int SmallShift = 12;
    private const int LargeShift = 22;
    private const byte Pattern = 0xaa;
    private const byte FreedPoison = 0x6b;

    private readonly Slot[] _slots;
    private readonly Region[] _regions;
    private readonly Lock _lock = new();
    private readonly byte* _reports;
    // Counters: _sampled, _errors and _skipped by Interlocked (counted inside the lock and outside it), _freed and
    // _inUse under the lock.
    private long _sampled;
    private long _freed;
    private long _errors;
    private long _skipped;
    private int _inUse;

    private SamplePool(byte* pages, int slots, int largeSlots, bool protects, byte* reports)
    {
        Base = pages;
        SmallBytes = RegionBytes(slots, SmallShift);
        Bytes = SmallBytes + RegionBytes(largeSlots, LargeShift);
        Protects = protects;
        _reports = reports;
        _regions =
        [
            new Region(pages, SmallShift, firstSlot: 0, slots, firstHalf: 0),
            new Region(pages + SmallBytes, LargeShift, firstSlot: slots, largeSlots, firstHalf: RegionHalves(slots)),
        ];
        _slots = new Slot[slots + largeSlots];
        for (int i = 0; i < _slots.Length; i++)
        {
            Region region = _regions[i < slots ? 0 : 1];
            _slots[i] = new Slot(region, DataOf(region, i));
            region.Queue.Enqueue(i);
        }

        foreach (Region region in _regions)
        {
            for (int half = 0; half < region.Halves; half++)
            {
                WriteReport(region, half);
            }
        }
    }

    /// <summary>The pool's first page.</summary>
    public byte* Base { get; }

    /// <summary>The pool's bytes, guard pages and large slots included.</summary>
    public nuint Bytes { get; }

    /// <summary>The bytes of the one-page slots' part, at <see cref="Base"/>; the large slots follow.</summary>
    public nuint SmallBytes { get; }

    /// <summary>Whether guard pages and freed slots are inaccessible (Linux), rather than filled with a pattern.</summary>
    public bool Protects { get; }

    /// <summary>Whether a fault in the pool prints its report before the runtime's (Linux x64).</summary>
    public bool ReportsFaults { get; private set; }

    /// <summary>The pool's reports, one per half unit (the one-page part's, then the large part's), for the fault handler.</summary>
    internal byte* Reports => _reports;

    /// <summary>The first report of the large slots' part, for the fault handler.</summary>
    internal byte* LargeReports => _reports + ((nuint)_regions[1].FirstHalf * ReportBytes);

    /// <summary>How many objects larger than a page the pool can hold at once (none where pages cannot be protected).</summary>
    public int LargeSlots => _regions[1].Slots;

    /// <summary>Makes the pool: pages protected on Linux, canaries elsewhere; null with the reason when the memory is refused.</summary>
    public static SamplePool? TryCreate(int slots, int largeSlots, out string? problem)
    {
        problem = null;
        if (!OperatingSystem.IsLinux())
        {
            largeSlots = 0;
        }

        int halves = RegionHalves(slots) + RegionHalves(largeSlots);
        nuint bytes = RegionBytes(slots, SmallShift) + RegionBytes(largeSlots, LargeShift);
        var reports = (byte*)NativeMemory.AllocZeroed((nuint)halves * ReportBytes);
        SamplePool pool;
        if (OperatingSystem.IsLinux())
        {
            nint pages = MapLow(bytes);
            if (pages == -1)
            {
                NativeMemory.Free(reports);
                problem = $"the OS refused {bytes} bytes for the sampling pool (mmap: errno {Marshal.GetLastSystemError()})";
                return null;
            }

            pool = new SamplePool((byte*)pages, slots, largeSlots, protects: true, reports);
            pool.ReportsFaults = FaultReporter.TryInstall(pool);
        }
        else
        {
            var pages = (byte*)NativeMemory.AlignedAlloc(bytes, PageSize);
            Fill(pages, bytes);
            pool = new SamplePool(pages, slots, 0, protects: false, reports);
        }

        return pool;
    }

    /// <summary>
    /// Takes a slot for an object of <paramref name="cache"/> of <paramref name="requested"/> bytes, constructed if
    /// the cache has a constructor; null when it is too large for a slot, the cache is not sampled, or every slot of
    /// its size is taken.
    /// </summary>
    /// <exception cref="InvalidOperationException">Without page protection: the slot's previous object was written after it was freed (the slot is not used).</exception>
    public void* TryAlloc(KmemCache cache, int requested)
    {
        if (cache.HasCheckedHandles)
        {
            Interlocked.Increment(ref _skipped);
            return null;
        }

        return TryAlloc(cache, cache.Name, (nuint)requested, cache.Align, "kmem_cache_alloc");
    }

    /// <summary>
    /// Takes a large slot for a kmalloc block of <paramref name="size"/> bytes (above 8 KiB) of the allocator whose
    /// large blocks are named <paramref name="name"/>; page-aligned, zeroed. Null when no large slot is free.
    /// </summary>
    /// <exception cref="InvalidOperationException">The slot could not be made accessible.</exception>
    public void* TryAllocLarge(string name, nuint size) => TryAlloc(null, name, size, PageSize, "kmalloc");

    private void* TryAlloc(KmemCache? cache, string name, nuint requested, nuint align, string call)
    {
        nuint span = (requested + align - 1) & ~(align - 1);
        Region region = _regions[span <= PageSize ? 0 : 1];
        if (span > region.UnitBytes)
        {
            Interlocked.Increment(ref _skipped);
            return null;
        }

        long managedBefore = GC.GetAllocatedBytesForCurrentThread();
        string site = AllocationSite.CaptureWithoutFiles();
        int index;
        lock (_lock)
        {
            if (!region.Queue.TryDequeue(out index))
            {
                Interlocked.Increment(ref _skipped);
                return null;
            }
        }

        Slot slot = _slots[index];
        if (!Protects && slot.State == SlotState.Freed && FirstDifference(slot.Low, (nuint)(slot.High - slot.Low), FreedPoison) is nuint at)
        {
            string problem = $"sampling pool: use after free: byte {at - (nuint)(slot.Object - slot.Low)} of freed object 0x{(nuint)slot.Object:x} " +
                $"({slot.Size} bytes of cache '{slot.Name}', allocated at {slot.AllocSite}, freed at {slot.FreeSite}) was 0x{slot.Low[at]:x2}, expected 0x{FreedPoison:x2}";
            Fill(slot.Low, (nuint)(slot.High - slot.Low));
            Release(index, SlotState.Free);
            Interlocked.Increment(ref _errors);
            throw new InvalidOperationException($"{call}({name}): {problem}. The slot was cleaned and stays free.");
        }

        bool right = (Interlocked.Increment(ref _sampled) & 1) == 1;
        byte* obj = right ? slot.Data + region.UnitBytes - span : slot.Data;
        byte* low = (byte*)((nuint)obj & ~(nuint)(PageSize - 1));
        byte* high = (byte*)(((nuint)obj + span + PageSize - 1) & ~(nuint)(PageSize - 1));
        Protect(low, (nuint)(high - low), ProtReadWrite);
        Fill(low, (nuint)(obj - low));
        NativeMemory.Clear(obj, requested);
        Fill(obj + requested, (nuint)(high - obj) - requested);
        lock (_lock)
        {
            slot.State = SlotState.Live;
            slot.Cache = cache;
            slot.Name = name;
            slot.Object = obj;
            slot.Size = requested;
            slot.Low = low;
            slot.High = high;
            slot.Right = right;
            slot.AllocSite = site;
            slot.FreeSite = null;
            _inUse++;
            WriteReports(index);
        }

        if (cache is not null)
        {
            cache.CountSampled(1);
            try
            {
                cache.ConstructSampled(obj);
            }
            catch
            {
                cache.CountSampled(-1);
                Protect(low, (nuint)(high - low), ProtNone);
                Release(index, SlotState.Free);
                throw;
            }
        }

        InterruptContext.ExcuseSamplerBytes(GC.GetAllocatedBytesForCurrentThread() - managedBefore);
        return obj;
    }

    /// <summary>
    /// Frees a sampled object, checking that it is one (and of <paramref name="cache"/> when given) and that the rest
    /// of its pages is intact; <paramref name="call"/> names the operation in messages.
    /// </summary>
    /// <exception cref="ArgumentException">Not a live sampled object (a guard page, inside an object, already freed) or of another cache; nothing is changed.</exception>
    /// <exception cref="InvalidOperationException">The bytes around the object were overwritten: the object is freed all the same.</exception>
    public void Free(KmemCache? cache, void* obj, string call)
    {
        long managedBefore = GC.GetAllocatedBytesForCurrentThread();
        Slot slot;
        int index;
        lock (_lock)
        {
            string? problem = Problem(obj, out index);
            if (problem is null && cache is not null && _slots[index].Cache != cache)
            {
                problem = $"wrong cache: the object belongs to cache '{_slots[index].Name}'";
            }

            if (problem is not null)
            {
                Interlocked.Increment(ref _errors);
                ThrowFreeError(call, cache, obj, problem);
            }

            slot = _slots[index];
            slot.State = SlotState.Freeing;
        }

        string? overwritten = Overwritten(slot);
        slot.FreeSite = AllocationSite.CaptureWithoutFiles();
        nuint bytes = (nuint)(slot.High - slot.Low);
        if (Protects)
        {
            Protect(slot.Low, bytes, ProtNone);
            if (slot.Region.Shift == LargeShift)
            {
                _ = Mman.madvise((nint)slot.Low, bytes, Mman.MadvDontNeed); // inaccessible either way: give the memory back
            }
        }
        else
        {
            NativeMemory.Fill(slot.Low, bytes, FreedPoison);
        }

        slot.Cache?.CountSampled(-1);
        lock (_lock)
        {
            slot.State = SlotState.Freed;
            _inUse--;
            _freed++;
            slot.Region.Queue.Enqueue(index);
            WriteReports(index);
        }

        InterruptContext.ExcuseSamplerBytes(GC.GetAllocatedBytesForCurrentThread() - managedBefore);
        if (overwritten is not null)
        {
            Interlocked.Increment(ref _errors);
            throw new InvalidOperationException($"{call}({slot.Name}, 0x{(nuint)obj:x}): sampled object: {overwritten}. The object was freed.");
        }
    }

    /// <summary>What the caller may use of a live sampled object: the size it asked for.</summary>
    /// <exception cref="ArgumentException">Not a live sampled object.</exception>
    public nuint UsableSize(void* obj, string call)
    {
        lock (_lock)
        {
            string? problem = Problem(obj, out int index);
            if (problem is not null)
            {
                throw new ArgumentException($"{call}(0x{(nuint)obj:x}): {problem}.", nameof(obj));
            }

            return _slots[index].Size;
        }
    }

    /// <summary>The cache of the live sampled object that <paramref name="obj"/> is in, or null (a large kmalloc block has none).</summary>
    public KmemCache? CacheOf(void* obj)
    {
        lock (_lock)
        {
            (Region region, int unit) = UnitOf(obj);
            return unit % 2 == 1 && _slots[region.FirstSlot + (unit / 2)] is { State: SlotState.Live } slot ? slot.Cache : null;
        }
    }

    /// <summary>The live sampled objects of <paramref name="cache"/>, or null when there are none.</summary>
    public nint[]? LiveObjectsOf(KmemCache cache)
    {
        lock (_lock)
        {
            List<nint>? live = null;
            foreach (Slot slot in _slots)
            {
                if (slot.State == SlotState.Live && slot.Cache == cache)
                {
                    (live ??= []).Add((nint)slot.Object);
                }
            }

            return live?.ToArray();
        }
    }

    /// <summary>Whether <paramref name="obj"/> is a live sampled object of <paramref name="cache"/>.</summary>
    public bool IsLive(nint obj, KmemCache cache)
    {
        lock (_lock)
        {
            return Problem((void*)obj, out int index) is null && _slots[index].Cache == cache;
        }
    }

    /// <summary>The pool's counters, for <see cref="Sampling.GetStatistics"/>.</summary>
    public SamplingStatistics Statistics()
    {
        lock (_lock)
        {
            return new SamplingStatistics(_sampled, _freed, _inUse, _slots.Length, Interlocked.Read(ref _errors), Interlocked.Read(ref _skipped));
        }
    }

    /// <summary>What is wrong with <paramref name="obj"/> as a live sampled object (null when it is one); its slot.</summary>
    private string? Problem(void* obj, out int index)
    {
        (Region region, int unit) = UnitOf(obj);
        index = region.FirstSlot + (unit / 2);
        if (unit % 2 == 0)
        {
            return "invalid free: the address is in a guard page of the sampling pool, not in an object";
        }

        Slot slot = _slots[index];
        if (slot.Object == obj && slot.State is SlotState.Freed or SlotState.Freeing)
        {
            return $"double free: the sampled object was freed at {slot.FreeSite ?? "a free still in progress"} (allocated at {slot.AllocSite})";
        }

        if (slot.State != SlotState.Live)
        {
            return "invalid free: the address is in a free slot of the sampling pool, not in an object";
        }

        return slot.Object == obj ? null
            : $"interior pointer: it is {(long)((byte*)obj - slot.Object)} bytes from the start of sampled object 0x{(nuint)slot.Object:x} of cache '{slot.Name}'";
    }

    /// <summary>The first byte around the object (in its pages, and in the guard page it touches when pages are not protected) that lost its pattern.</summary>
    private string? Overwritten(Slot slot)
    {
        byte* end = slot.Object + slot.Size;
        for (byte* b = slot.Low; b < slot.Object; b++)
        {
            if (*b != PatternAt(b))
            {
                return OverwrittenAt(slot, b, $"{slot.Object - b} bytes before its start");
            }
        }

        for (byte* b = end; b < slot.High; b++)
        {
            if (*b != PatternAt(b))
            {
                return OverwrittenAt(slot, b, $"byte {b - end} past its end");
            }
        }

        if (!Protects)
        {
            byte* guard = slot.Right ? slot.High : slot.Low - PageSize;
            if (FirstDifference(guard, PageSize) is nuint at)
            {
                string where = slot.Right ? $"byte {guard + at - end} past its end (in the guard page)" : $"{slot.Object - (guard + at)} bytes before its start (in the guard page)";
                string report = OverwrittenAt(slot, guard + at, where);
                Fill(guard, PageSize);
                return report;
            }
        }

        return null;
    }

    private static string OverwrittenAt(Slot slot, byte* at, string where) =>
        $"out-of-bounds write: {where} was 0x{*at:x2}, expected 0x{PatternAt(at):x2} (the {slot.Size}-byte object was allocated at {slot.AllocSite})";

    /// <summary>Rewrites the reports of slot <paramref name="index"/>'s data unit and of the guards on both sides; under the lock.</summary>
    private void WriteReports(int index)
    {
        Region region = _slots[index].Region;
        int local = index - region.FirstSlot;
        for (int half = 4 * local; half < (4 * local) + 6; half++)
        {
            WriteReport(region, half);
        }
    }

    /// <summary>
    /// Writes the report of half unit <paramref name="half"/> of <paramref name="region"/>: what an access to it means
    /// now. A guard's first half names the object on its left if that one is placed against it, its second half the
    /// object on its right, each falling back on the other (KFENCE's nearest object). A live object's data unit names
    /// it as out of bounds on its free side (a large slot's pages the object does not use are inaccessible).
    /// </summary>
    private void WriteReport(Region region, int half)
    {
        var text = new StringBuilder();
        int unit = half / 2;
        Slot? about = null;
        if (unit % 2 == 1)
        {
            Slot slot = _slots[region.FirstSlot + (unit / 2)];
            if (slot.State is SlotState.Freed or SlotState.Freeing)
            {
                about = slot;
                text.Append("use after free: ");
                Describe(text, slot);
            }
            else if (slot.State == SlotState.Live)
            {
                about = slot;
                text.Append(slot.Right ? "out-of-bounds access before the start of " : "out-of-bounds access past the end of ");
                Describe(text, slot);
            }
            else
            {
                text.Append("an access to a free slot of the sampling pool (no object there: a wild pointer)\n");
            }
        }
        else
        {
            int next = unit / 2;
            Slot? left = next - 1 >= 0 && _slots[region.FirstSlot + next - 1] is { Right: true, State: not SlotState.Free } l ? l : null;
            Slot? right = next < region.Slots && _slots[region.FirstSlot + next] is { Right: false, State: not SlotState.Free } r ? r : null;
            about = half % 2 == 0 ? left ?? right : right ?? left;
            if (about is null)
            {
                text.Append("an access to a guard page of the sampling pool with no object against it (a wild pointer)\n");
            }
            else
            {
                text.Append(about == left ? "out-of-bounds access past the end of " : "out-of-bounds access before the start of ");
                Describe(text, about);
            }
        }

        text.Append("SlabGen: the runtime's report of the fault follows.\n");
        byte* report = _reports + ((nuint)(region.FirstHalf + half) * ReportBytes);
        Volatile.Write(ref *(long*)report, 0);
        *(nint*)(report + 8) = about is null ? 0 : (nint)about.Object;
        int length = Encoding.UTF8.GetBytes(text.ToString().AsSpan(), new Span<byte>(report + 16, ReportBytes - 16 - 4));
        Volatile.Write(ref *(long*)report, length);
    }

    private static void Describe(StringBuilder text, Slot slot)
    {
        text.Append($"sampled object 0x{(nuint)slot.Object:x} ({slot.Size} bytes, cache '{slot.Name}'), {(slot.State == SlotState.Live ? "live" : "freed")};\n");
        text.Append($"  allocated at {slot.AllocSite}\n");
        if (slot.FreeSite is not null)
        {
            text.Append($"  freed at {slot.FreeSite}\n");
        }
    }

    private void Release(int index, SlotState state)
    {
        lock (_lock)
        {
            if (_slots[index].State == SlotState.Live)
            {
                _inUse--;
            }

            _slots[index].State = state;
            _slots[index].Region.Queue.Enqueue(index);
            WriteReports(index);
        }
    }

    [DoesNotReturn]
    private static void ThrowFreeError(string call, KmemCache? cache, void* obj, string problem) =>
        throw new ArgumentException($"{call}({(cache is null ? "" : cache.Name + ", ")}0x{(nuint)obj:x}): {problem}.", nameof(obj));

    /// <summary>The region an address of the pool is in, and its unit there.</summary>
    private (Region Region, int Unit) UnitOf(void* obj)
    {
        Region region = _regions[(nuint)obj - (nuint)Base < SmallBytes ? 0 : 1];
        return (region, (int)(((nuint)obj - (nuint)region.Start) >> region.Shift));
    }

    /// <summary>The bytes of a region of <paramref name="slots"/> slots of units of 2^<paramref name="shift"/> bytes: a guard unit on both sides of each data unit; none for no slot.</summary>
    private static nuint RegionBytes(int slots, int shift) => slots == 0 ? 0 : (nuint)((2 * slots) + 1) << shift;

    /// <summary>The reports of a region of <paramref name="slots"/> slots: two per unit.</summary>
    private static int RegionHalves(int slots) => slots == 0 ? 0 : 2 * ((2 * slots) + 1);

    private static byte* DataOf(Region region, int index) => region.Start + ((nuint)(2 * (index - region.FirstSlot) + 1) << region.Shift);

    private static byte PatternAt(byte* b) => (byte)(Pattern ^ ((nuint)b & 7));

    private static void Fill(byte* start, nuint bytes)
    {
        for (byte* b = start; b < start + bytes; b++)
        {
            *b = PatternAt(b);
        }
    }

    private static nuint? FirstDifference(byte* start, nuint bytes)
    {
        for (byte* b = start; b < start + bytes; b++)
        {
            if (*b != PatternAt(b))
            {
                return (nuint)(b - start);
            }
        }

        return null;
    }

    private static nuint? FirstDifference(byte* start, nuint bytes, byte expected)
    {
        int at = new ReadOnlySpan<byte>(start, (int)bytes).IndexOfAnyExcept(expected);
        return at < 0 ? null : (nuint)at;
    }

    /// <summary>Where the pool is mapped when it can be: low, under every arena and the runtime's heaps, for the typed free's one-compare test.</summary>
    internal const nint LowBase = 0x1000_0000;

    /// <summary>The pool's mapping: at <see cref="LowBase"/> or one of the next few 256 MiB steps if free there, else wherever the OS puts it.</summary>
    private static nint MapLow(nuint bytes)
    {
        for (nint at = LowBase; at < 0x7000_0000; at += 0x1000_0000)
        {
            nint pages = Mman.mmap(at, bytes, ProtNone, Mman.MapPrivateAnonymous | Mman.MapNoReserve | Mman.MapFixedNoReplace, -1, 0);
            if (pages == at)
            {
                return pages;
            }

            if (pages != -1)
            {
                _ = Mman.munmap(pages, bytes); // a kernel without MAP_FIXED_NOREPLACE took the address as a hint only
            }
        }

        return Mman.mmap(0, bytes, ProtNone, Mman.MapPrivateAnonymous | Mman.MapNoReserve, -1, 0);
    }

    private void Protect(byte* start, nuint bytes, int protection)
    {
        if (Protects && Mman.mprotect((nint)start, bytes, protection) != 0)
        {
            throw new InvalidOperationException($"sampling pool: mprotect(0x{(nuint)start:x}, {bytes}) failed: errno {Marshal.GetLastSystemError()}.");
        }
    }

    private enum SlotState
    {
        Free,
        Live,
        Freeing,
        Freed,
    }

    /// <summary>One part of the pool: slots of one size, each a data unit between two guard units, and their queue (under the pool's lock).</summary>
    private sealed class Region(byte* start, int shift, int firstSlot, int slots, int firstHalf)
    {
        public readonly byte* Start = start;
        public readonly int Shift = shift;
        public readonly int FirstSlot = firstSlot;
        public readonly int Slots = slots;
        public readonly int FirstHalf = firstHalf;
        public readonly Queue<int> Queue = new();

        public nuint UnitBytes => (nuint)1 << Shift;

        /// <summary>The reports of this region: two per unit.</summary>
        public int Halves => RegionHalves(Slots);
    }

    /// <summary>One slot's object: written under the pool's lock, or by the one thread that took the slot out of the queue or began its free.</summary>
    private sealed class Slot(Region region, byte* data)
    {
        public readonly Region Region = region;
        public readonly byte* Data = data;
        public SlotState State;
        public KmemCache? Cache;
        public string Name = "";
        public byte* Object;
        public nuint Size;

        /// <summary>The pages the object was given: [Low, High), accessible while it lives.</summary>
        public byte* Low;
        public byte* High;
        public bool Right;
        public string AllocSite = "";
        public string? FreeSite;
    }

    private const int ProtNone = Mman.ProtNone;
    private const int ProtReadWrite = Mman.ProtReadWrite;
}
