// The sampling pool (the kernel's KFENCE, mm/kfence/core.c): 255 slots of one page each, every data page between two
// guard pages, in one mapping:
//     [guard 0][data 0][guard 1][data 1] … [data 254][guard 255]          page p: a guard when p is even, else slot (p-1)/2
// A sampled allocation takes the slot freed longest ago, makes its page readable and writable, and places the object
// against the guard page on its right or on its left (alternating): an access past the end or before the start
// faults at once. The rest of the page is filled with a pattern (0xaa ^ (address & 7), KFENCE's) and checked on
// free, for the small overflows the alignment leaves inside the page. A freed slot's page is made inaccessible again
// and goes to the back of the queue, so a use after free faults for as long as the other 254 slots last.
// Every half page has a report (1,024 bytes: length, the object it concerns, text), rewritten whenever a slot next to
// it changes, for the fault handler (FaultReporter.cs) to print as it is: which object, which cache, where it was
// allocated and freed. Half pages, so that a guard page between two objects blames the nearer one.
//
// Where pages cannot be protected (anything but Linux), the same layout runs on canaries: guard pages hold the pattern
// too and are checked with the page on free, and a freed page is filled with 0x6b and checked when its slot is taken
// again, as the Poison debug mode does.
//
// Everything here is the slow path of a sampled allocation or free: one lock, a few system calls, a stack capture.
using System.Diagnostics.CodeAnalysis;
using System.Runtime.InteropServices;
using System.Text;

namespace SlabGen;

internal sealed unsafe class SamplePool
{
    /// <summary>KFENCE's default number of objects.</summary>
    public const int DefaultSlots = 255;

    /// <summary>The bytes of one half-page's report: 8 (length), 8 (the object), text.</summary>
    public const int ReportBytes = 1024;

    private const int PageSize = PageAllocator.PageSize;
    private const byte Pattern = 0xaa;
    private const byte FreedPoison = 0x6b;

    private readonly Slot[] _slots;
    private readonly Queue<int> _queue = new();
    private readonly Lock _lock = new();
    private readonly byte* _reports;
    // Counters: _sampled, _errors and _skipped by Interlocked (counted inside the lock and outside it), _freed and
    // _inUse under the lock.
    private long _sampled;
    private long _freed;
    private long _errors;
    private long _skipped;
    private int _inUse;

    private SamplePool(byte* pages, int slots, bool protects, byte* reports)
    {
        Base = pages;
        Bytes = (nuint)(2 * slots + 1) * PageSize;
        Protects = protects;
        _reports = reports;
        _slots = new Slot[slots];
        for (int i = 0; i < slots; i++)
        {
            _slots[i] = new Slot();
            _queue.Enqueue(i);
        }

        for (int half = 0; half < 2 * (2 * slots + 1); half++)
        {
            WriteReport(half);
        }
    }

    /// <summary>The pool's first page.</summary>
    public byte* Base { get; }

    /// <summary>The pool's bytes, guard pages included.</summary>
    public nuint Bytes { get; }

    /// <summary>Whether guard pages and freed slots are inaccessible (Linux), rather than filled with a pattern.</summary>
    public bool Protects { get; }

    /// <summary>Whether a fault in the pool prints its report before the runtime's (Linux x64).</summary>
    public bool ReportsFaults { get; private set; }

    /// <summary>The pool's reports, one per half page, for the fault handler.</summary>
    internal byte* Reports => _reports;

    /// <summary>Makes the pool: pages protected on Linux, canaries elsewhere; null with the reason when the memory is refused.</summary>
    public static SamplePool? TryCreate(int slots, out string? problem)
    {
        problem = null;
        nuint bytes = (nuint)(2 * slots + 1) * PageSize;
        var reports = (byte*)NativeMemory.AllocZeroed((nuint)(2 * (2 * slots + 1)) * ReportBytes);
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

            pool = new SamplePool((byte*)pages, slots, protects: true, reports);
            pool.ReportsFaults = FaultReporter.TryInstall(pool);
        }
        else
        {
            var pages = (byte*)NativeMemory.AlignedAlloc(bytes, PageSize);
            Fill(pages, bytes);
            pool = new SamplePool(pages, slots, protects: false, reports);
        }

        return pool;
    }

    /// <summary>
    /// Takes a slot for an object of <paramref name="cache"/> of <paramref name="requested"/> bytes, constructed if
    /// the cache has a constructor; null when it does not fit a page, the cache is not sampled, or every slot is taken.
    /// </summary>
    /// <exception cref="InvalidOperationException">Without page protection: the slot's previous object was written after it was freed (the slot is not used).</exception>
    public void* TryAlloc(KmemCache cache, int requested)
    {
        nuint align = cache.Align;
        nuint span = ((nuint)requested + align - 1) & ~(align - 1);
        if (span > PageSize || cache.HasCheckedHandles)
        {
            Interlocked.Increment(ref _skipped);
            return null;
        }

        long managedBefore = GC.GetAllocatedBytesForCurrentThread();
        string site = AllocationSite.CaptureWithoutFiles();
        int index;
        lock (_lock)
        {
            if (!_queue.TryDequeue(out index))
            {
                Interlocked.Increment(ref _skipped);
                return null;
            }
        }

        Slot slot = _slots[index];
        byte* page = DataPage(index);
        if (!Protects && slot.State == SlotState.Freed && FirstDifference(page, PageSize, FreedPoison) is nuint at)
        {
            string problem = $"sampling pool: use after free: byte {at - (nuint)(slot.Object - page)} of freed object 0x{(nuint)slot.Object:x} " +
                $"({slot.Size} bytes of cache '{slot.Cache!.Name}', allocated at {slot.AllocSite}, freed at {slot.FreeSite}) was 0x{page[at]:x2}, expected 0x{FreedPoison:x2}";
            Fill(page, PageSize);
            Release(index, SlotState.Free);
            Interlocked.Increment(ref _errors);
            throw new InvalidOperationException($"kmem_cache_alloc({cache.Name}): {problem}. The slot was cleaned and stays free.");
        }

        Protect(page, ProtReadWrite);
        bool right = (Interlocked.Increment(ref _sampled) & 1) == 1;
        byte* obj = right ? page + PageSize - span : page;
        Fill(page, PageSize);
        NativeMemory.Clear(obj, (nuint)requested);
        lock (_lock)
        {
            slot.State = SlotState.Live;
            slot.Cache = cache;
            slot.Object = obj;
            slot.Size = requested;
            slot.Right = right;
            slot.AllocSite = site;
            slot.FreeSite = null;
            _inUse++;
            WriteReports(index);
        }

        cache.CountSampled(1);
        try
        {
            cache.ConstructSampled(obj);
        }
        catch
        {
            cache.CountSampled(-1);
            Protect(page, ProtNone);
            Release(index, SlotState.Free);
            throw;
        }

        InterruptContext.ExcuseSamplerBytes(GC.GetAllocatedBytesForCurrentThread() - managedBefore);
        return obj;
    }

    /// <summary>
    /// Frees a sampled object, checking that it is one (and of <paramref name="cache"/> when given) and that the rest
    /// of its page is intact; <paramref name="call"/> names the operation in messages.
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
                problem = $"wrong cache: the object belongs to cache '{_slots[index].Cache!.Name}'";
            }

            if (problem is not null)
            {
                Interlocked.Increment(ref _errors);
                ThrowFreeError(call, cache, obj, problem);
            }

            slot = _slots[index];
            slot.State = SlotState.Freeing;
        }

        byte* page = DataPage(index);
        string? overwritten = Overwritten(index, slot);
        slot.FreeSite = AllocationSite.CaptureWithoutFiles();
        if (Protects)
        {
            Protect(page, ProtNone);
        }
        else
        {
            NativeMemory.Fill(page, PageSize, FreedPoison);
        }

        slot.Cache!.CountSampled(-1);
        lock (_lock)
        {
            slot.State = SlotState.Freed;
            _inUse--;
            _freed++;
            _queue.Enqueue(index);
            WriteReports(index);
        }

        InterruptContext.ExcuseSamplerBytes(GC.GetAllocatedBytesForCurrentThread() - managedBefore);
        if (overwritten is not null)
        {
            Interlocked.Increment(ref _errors);
            throw new InvalidOperationException($"{call}({slot.Cache.Name}, 0x{(nuint)obj:x}): sampled object: {overwritten}. The object was freed.");
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

            return (nuint)_slots[index].Size;
        }
    }

    /// <summary>The cache of the live sampled object that <paramref name="obj"/> is in, or null.</summary>
    public KmemCache? CacheOf(void* obj)
    {
        lock (_lock)
        {
            int page = PageIndex(obj);
            return page % 2 == 1 && _slots[page / 2].State == SlotState.Live ? _slots[page / 2].Cache : null;
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
        int page = PageIndex(obj);
        index = page / 2;
        if (page % 2 == 0)
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
            : $"interior pointer: it is {(long)((byte*)obj - slot.Object)} bytes from the start of sampled object 0x{(nuint)slot.Object:x} of cache '{slot.Cache!.Name}'";
    }

    /// <summary>The first byte around the object (in its page, and in the guard page it touches when pages are not protected) that lost its pattern.</summary>
    private string? Overwritten(int index, Slot slot)
    {
        byte* page = DataPage(index);
        byte* end = slot.Object + slot.Size;
        for (byte* b = page; b < slot.Object; b++)
        {
            if (*b != PatternAt(b))
            {
                return OverwrittenAt(slot, b, $"{slot.Object - b} bytes before its start");
            }
        }

        for (byte* b = end; b < page + PageSize; b++)
        {
            if (*b != PatternAt(b))
            {
                return OverwrittenAt(slot, b, $"byte {b - end} past its end");
            }
        }

        if (!Protects)
        {
            byte* guard = slot.Right ? page + PageSize : page - PageSize;
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

    /// <summary>Rewrites the reports of slot <paramref name="index"/>'s page and of the guard pages on both sides; under the lock.</summary>
    private void WriteReports(int index)
    {
        for (int half = 4 * index; half < 4 * index + 6; half++)
        {
            WriteReport(half);
        }
    }

    /// <summary>
    /// Writes the report of half-page <paramref name="half"/>: what an access to it means now. A guard page's first
    /// half names the object on its left if that one is placed against it, its second half the object on its right,
    /// each falling back on the other (KFENCE's nearest object).
    /// </summary>
    private void WriteReport(int half)
    {
        var text = new StringBuilder();
        int page = half / 2;
        Slot? about = null;
        if (page % 2 == 1)
        {
            Slot slot = _slots[page / 2];
            if (slot.State is SlotState.Freed or SlotState.Freeing)
            {
                about = slot;
                text.Append("use after free: ");
                Describe(text, slot);
            }
            else
            {
                text.Append("an access to a free slot of the sampling pool (no object there: a wild pointer)\n");
            }
        }
        else
        {
            Slot? left = page / 2 - 1 >= 0 && _slots[page / 2 - 1] is { Right: true, State: not SlotState.Free } l ? l : null;
            Slot? right = page / 2 < _slots.Length && _slots[page / 2] is { Right: false, State: not SlotState.Free } r ? r : null;
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
        byte* report = _reports + ((nuint)half * ReportBytes);
        Volatile.Write(ref *(long*)report, 0);
        *(nint*)(report + 8) = about is null ? 0 : (nint)about.Object;
        int length = Encoding.UTF8.GetBytes(text.ToString().AsSpan(), new Span<byte>(report + 16, ReportBytes - 16 - 4));
        Volatile.Write(ref *(long*)report, length);
    }

    private static void Describe(StringBuilder text, Slot slot)
    {
        text.Append($"sampled object 0x{(nuint)slot.Object:x} ({slot.Size} bytes, cache '{slot.Cache?.Name}'), {(slot.State == SlotState.Live ? "live" : "freed")};\n");
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
            _queue.Enqueue(index);
            WriteReports(index);
        }
    }

    [DoesNotReturn]
    private static void ThrowFreeError(string call, KmemCache? cache, void* obj, string problem) =>
        throw new ArgumentException($"{call}({(cache is null ? "" : cache.Name + ", ")}0x{(nuint)obj:x}): {problem}.", nameof(obj));

    private int PageIndex(void* obj) => (int)(((nuint)obj - (nuint)Base) / PageSize);

    private byte* DataPage(int index) => Base + ((nuint)(2 * index + 1) * PageSize);

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
            nint pages = Mman.mmap(at, bytes, ProtNone, Mman.MapPrivateAnonymous | Mman.MapFixedNoReplace, -1, 0);
            if (pages == at)
            {
                return pages;
            }

            if (pages != -1)
            {
                _ = Mman.munmap(pages, bytes); // a kernel without MAP_FIXED_NOREPLACE took the address as a hint only
            }
        }

        return Mman.mmap(0, bytes, ProtNone, Mman.MapPrivateAnonymous, -1, 0);
    }

    private void Protect(byte* page, int protection)
    {
        if (Protects && Mman.mprotect((nint)page, PageSize, protection) != 0)
        {
            throw new InvalidOperationException($"sampling pool: mprotect(0x{(nuint)page:x}) failed: errno {Marshal.GetLastSystemError()}.");
        }
    }

    private enum SlotState
    {
        Free,
        Live,
        Freeing,
        Freed,
    }

    /// <summary>One slot's object: written under the pool's lock, or by the one thread that took the slot out of the queue or began its free.</summary>
    private sealed class Slot
    {
        public SlotState State;
        public KmemCache? Cache;
        public byte* Object;
        public int Size;
        public bool Right;
        public string AllocSite = "";
        public string? FreeSite;
    }

    private const int ProtNone = Mman.ProtNone;
    private const int ProtReadWrite = Mman.ProtReadWrite;
}
