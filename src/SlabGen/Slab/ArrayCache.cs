// A thread's array cache of one slab cache (the kernel SLAB's array_cache): a stack of up to Limit object
// pointers that the fast paths pop and push, inline in the thread's block. Its two halves are Bonwick and Adams'
// two magazines (2001): when the stack is empty an allocation loads a whole full magazine from the cache's depot,
// and when it is full a free unloads its upper half as one magazine, so a burst costs one exchange per magazine
// (a copy of BatchCount pointers and one lock-free ring operation), not a walk of slab freelists per object. Only
// when the depot has no full magazine do objects come from the slabs, a batch at a time under the cache lock, and
// only when the depot is full do a magazine's objects go back to their slabs. A free on another thread than the
// allocating one pushes onto the freeing thread's stack: objects migrate, which is correct.
//
// The block (PerThreadBlock.cs) is found through ThreadSlots by cache id, through a generated type's own thread
// static, or through kmalloc's per-thread table; all three reach this same block, whose address never changes:
//   [header: Cookie Busy State Capacity Limit InterruptDepth* Count][FreeTag FreeWord SlabMask Span Divisor SampleCountdown][entry 0 .. entry Limit-1]
//   Count = objects on the stack, the last of them the hottest; Capacity = Limit (0 while a drain has the block).
// The entries are inline so a pop or a push touches the block's own cache lines only. The five words after the
// common header are the cache's constants that the checked free needs, copied here so every route reads them from
// the line it already holds; the sixth is the thread's countdown to its next sampled allocation when sampling is by
// count (Sampling/Sampler.cs: the pop's one test, folded away when sampling is off).
//
// Checked frees (every free path, default mode): the object's free word (FreeWord.cs has its states and every
// function that reads or writes it). A push first reads the word: if it may mean "free" (it decodes into the
// object's own slab), the push misses to the slow path, which decides exactly (KmemCache.ThrowIfFree: the cached
// marker, or a walk of the slab's freelist) and throws on a double free. A pop marks the object allocated, so an
// allocated object never looks free unless its data happens to equal that pattern (then the slow path looks and frees
// it normally). The interior check
// (IsObjectStart) is a bound and a divisibility test by multiplication (Lemire, Kaser, Kurz 2019), no division.
// This is glibc's tcache double-free check (a key written on free, cleared on allocation) made exact. A variant that
// wrote nothing on allocation (the word kept the code of the stack position the object left, checked inline on the
// push) had to rewrite the code of every object a magazine exchange moved: 6 to 8 ns more per object in batches and
// no gain on pairs on a Xeon, so it was dropped.
using System.Runtime.CompilerServices;

namespace SlabGen;

internal sealed unsafe class ArrayCache : PerThreadState
{
    /// <summary>The cache's secret: a free object's free word holds its address (or its successor) XOR this.</summary>
    public const int FreeTagIndex = PerThreadBlock.HeaderWords;

    /// <summary>Where an object's free word is: the cache's free-pointer offset.</summary>
    public const int FreeWordIndex = FreeTagIndex + 1;

    /// <summary>~(slab bytes - 1): the bits that name an object's slab (slabs are aligned to their size).</summary>
    public const int SlabMaskIndex = FreeWordIndex + 1;

    /// <summary>ObjectsPerSlab × stride: the bytes from the first object's start to the end of the last.</summary>
    public const int SpanIndex = SlabMaskIndex + 1;

    /// <summary>ceil(2^64 / stride): an offset is a multiple of the stride iff offset × this ≤ this − 1 (mod 2^64).</summary>
    public const int DivisorIndex = SpanIndex + 1;

    /// <summary>Sampling by count (Sampling/Sampler.cs): allocations of this cache left on this thread until the next sample.</summary>
    public const int SampleCountdownIndex = DivisorIndex + 1;

    public const int EntriesIndex = SampleCountdownIndex + 1;

    /// <summary>
    /// The AppContext switch (or environment variable <c>SLABGEN_DISABLE_FREE_CHECKS=1</c>) that turns the default free
    /// checks off for the whole process: the fast paths then neither read nor write an object's free word and do not
    /// test for an object's start (the JIT folds the checks away). Debug caches keep their own checks.
    /// </summary>
    public const string DisableFreeChecksSwitch = "SlabGen.DisableFreeChecks";

    /// <summary>Whether frees are checked for double frees and interior pointers (the default).</summary>
    public static readonly bool FreeChecks =
        !(AppContext.TryGetSwitch(DisableFreeChecksSwitch, out bool disabled) && disabled)
        && Environment.GetEnvironmentVariable("SLABGEN_DISABLE_FREE_CHECKS") != "1";

    /// <summary>What drains took off the stack, until it is given back; guarded by itself (two drains may overlap).</summary>
    private readonly List<nint> _taken = [];

    /// <summary>How far up the stack a drain took, until the owner reconciles (PerThreadBlock.cs).</summary>
    private int _seen;

    /// <summary>Makes the calling thread's array cache of <paramref name="cache"/>, empty.</summary>
    public ArrayCache(KmemCache cache, long cookie)
        : base(cookie, cache.Limit, EntriesIndex + cache.Limit)
    {
        Cache = cache;
        Limit = cache.Limit;
        MagazineSize = cache.BatchCount;
        Block[FreeTagIndex] = cache.FreeTag;
        Block[FreeWordIndex] = (nint)cache.Layout.FreePointerOffset;
        Block[SlabMaskIndex] = cache.Layout.SlabMask;
        Block[SpanIndex] = (nint)((nuint)cache.ObjectsPerSlab * cache.Layout.Stride);
        Block[DivisorIndex] = (nint)(ulong.MaxValue / cache.Layout.Stride + 1);
        Block[SampleCountdownIndex] = Sampler.FirstCountdown();
    }

    public KmemCache Cache { get; }

    /// <summary>
    /// An array cache of <paramref name="cache"/> that no fast path ever opens: the block of a debug cache's
    /// <see cref="KmemCacheThreadCache"/>, whose every call must take the cache's checked slow path. Registered nowhere;
    /// its cookie (0) matches no slab page.
    /// </summary>
    public static ArrayCache Shut(KmemCache cache)
    {
        var shut = new ArrayCache(cache, 0);
        PerThreadBlock.Kill(shut.Block);
        return shut;
    }

    /// <summary>The most objects the stack holds: two magazines (slabinfo's limit).</summary>
    public int Limit { get; }

    /// <summary>The rounds of one magazine: what moves to or from the depot at once (slabinfo's batchcount).</summary>
    public int MagazineSize { get; }

    /// <summary>Objects on the stack (not those a drain took); read without synchronisation, so exact only when the thread is not allocating or freeing.</summary>
    public int Cached
    {
        get
        {
            int count = (int)Volatile.Read(ref PerThreadBlock.Header(Block)->Count);
            return Math.Max(0, count - (IsTaken ? Volatile.Read(ref _seen) : 0));
        }
    }

    private nint Count
    {
        get => PerThreadBlock.Header(Block)->Count;
        set => PerThreadBlock.Header(Block)->Count = value;
    }

    private Span<nint> Entries => new(Block + EntriesIndex, Limit);

    /// <summary>
    /// The fast-path pop of every allocation entry point: the hottest object of <paramref name="block"/> (a
    /// thread's block, not null), or null when the stack is empty, a drain has the block, or
    /// <paramref name="flags"/> need the slow path (<see cref="Gfp.FastPathServes"/>).
    /// The Count store comes before the State load: that order is the drain handshake (PerThreadBlock.cs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* TryPop(nint* block, GfpFlags flags) => TryPop(block, flags, block[FreeWordIndex]);

    /// <summary><see cref="TryPop(nint*, GfpFlags)"/> with the cache's free-word offset given (a JIT-time constant for a type cache).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* TryPop(nint* block, GfpFlags flags, nint freeWord)
    {
        if (Sampler.GateFires(block))
        {
            return null;
        }

        if (Gfp.FastPathServes(flags, PerThreadBlock.Header(block)->InterruptDepth))
        {
            nint count = PerThreadBlock.Header(block)->Count;
            if (count > 0)
            {
                Volatile.Write(ref PerThreadBlock.Header(block)->Count, count - 1);
                if (PerThreadBlock.IsOpen(block))
                {
                    var obj = (byte*)block[EntriesIndex - 1 + count];
                    if (FreeChecks)
                    {
                        FreeWord.MarkAllocated(obj, freeWord);
                    }

                    return obj;
                }

                Volatile.Write(ref PerThreadBlock.Header(block)->Count, count);
            }
        }

        return null;
    }

    /// <summary>
    /// The free fast path of every untyped entry point (KmemCache.Free and FreeToSlabCache, Kfree and KfreeTo, the
    /// KmemCache handle), once the caller holds the thread's block of the object's cache: <paramref name="obj"/> must
    /// start an object of the slab whose frame is <paramref name="page"/> (<see cref="IsObjectStart"/>), and the push
    /// must take it. False sends the caller to its slow path, which decides.
    /// </summary>
    /// <remarks>
    /// One return expression over one inlinee with several returns, so the JIT folds the result into the caller's
    /// branch. Two other shapes made it materialize a bool on every free (disasm-ab.sh): <c>IsObjectStart(…) &amp;&amp;
    /// TryPush(…)</c> as the return, and the start test's result passed as an argument.
    /// </remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryFree(nint* block, void* obj, PageFrame* page) =>
        TryPush(block, obj, checkStart: true, SlabPage.Of(page)->Colour, block[FreeWordIndex], block[FreeTagIndex], block[SlabMaskIndex]);

    /// <summary>
    /// The fast-path push of every free: false when the stack of <paramref name="block"/> (not null) is full, a drain
    /// has the block, the object may already be free (its free word points into its own slab; the slow path decides)
    /// or, with <paramref name="checkStart"/>, it does not start an object of a slab with <paramref name="colour"/>. The
    /// free word is marked before the Count store publishes the entry. A type cache passes its free-word offset, tag and
    /// slab mask as JIT-time constants and no start check (its handles and pointers are typed).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryPush(nint* block, void* obj, bool checkStart, nint colour, nint freeWord, nint tag, nint slabMask)
    {
        if (checkStart && !IsObjectStart(block, obj, (int)colour))
        {
            return false;
        }

        if (!FreeChecks)
        {
            return TryPushUnchecked(block, obj);
        }

        nint* word = FreeWord.Of(obj, freeWord);
        nint count = PerThreadBlock.Header(block)->Count;
        if (!FreeWord.MayBeFree(*word, obj, tag, slabMask) && count < Volatile.Read(ref PerThreadBlock.Header(block)->Capacity))
        {
            *word = FreeWord.Cached(obj, tag);
            block[EntriesIndex + count] = (nint)obj;
            Volatile.Write(ref PerThreadBlock.Header(block)->Count, count + 1);
            return true;
        }

        return false;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool TryPushUnchecked(nint* block, void* obj)
    {
        nint count = PerThreadBlock.Header(block)->Count;
        if (count < Volatile.Read(ref PerThreadBlock.Header(block)->Capacity))
        {
            block[EntriesIndex + count] = (nint)obj;
            Volatile.Write(ref PerThreadBlock.Header(block)->Count, count + 1);
            return true;
        }

        return false;
    }

    /// <summary>
    /// Whether <paramref name="obj"/>, in a slab of this block's cache whose pages carry <paramref name="colour"/>, is
    /// the start of an object: inside the objects' span and a whole number of strides from the first.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsObjectStart(nint* block, void* obj, int colour)
    {
        if (!FreeChecks)
        {
            return true;
        }

        ulong offset = (ulong)((nint)obj & ~block[SlabMaskIndex]) - (ulong)colour;
        ulong divisor = (ulong)block[DivisorIndex];
        return offset < (ulong)block[SpanIndex] && offset * divisor <= divisor - 1;
    }

    /// <summary>
    /// The kernel SLAB's enable_cpucache, doubled: a thread's stack holds two of the kernel's arrays, one magazine
    /// each, so smaller objects get larger magazines (120 objects up to 256 bytes).
    /// </summary>
    public static (int Limit, int BatchCount) Tunables(nuint objectSize)
    {
        int magazine = objectSize switch
        {
            > 131072 => 1,
            > PageAllocator.PageSize => 8,
            > 1024 => 24,
            > 256 => 54,
            _ => 120,
        };
        return (2 * magazine, magazine);
    }

    // The owner's slow-path steps; each runs between Enter and Exit.

    /// <summary>Pops the hottest object, clearing its free word; null when the stack is empty.</summary>
    public void* Pop()
    {
        if (Count == 0)
        {
            return null;
        }

        var obj = (byte*)Entries[(int)--Count];
        if (FreeChecks)
        {
            FreeWord.MarkAllocated(obj, Block[FreeWordIndex]);
        }

        return obj;
    }

    /// <summary>Pushes an object (checked by the caller), marking it free; false when the stack is full.</summary>
    public bool Push(void* obj)
    {
        if (Count == Limit)
        {
            return false;
        }

        if (FreeChecks)
        {
            FreeWord.MarkCached(obj, Block[FreeWordIndex], Block[FreeTagIndex]);
        }

        Entries[(int)Count++] = (nint)obj;
        return true;
    }

    /// <summary>
    /// Loads a full magazine from the depot onto the stack and pops one object of it; false (nothing changed) when
    /// the stack has no room for a whole magazine (a constructor freed on this thread in between).
    /// </summary>
    public bool LoadFull(nint* full, out void* obj)
    {
        obj = null;
        if (Count > Limit - MagazineSize)
        {
            return false;
        }

        new ReadOnlySpan<nint>(full, MagazineSize).CopyTo(Entries[(int)Count..]);
        Count += MagazineSize;
        obj = Pop();
        return true;
    }

    /// <summary>
    /// Pushes <paramref name="obj"/>, first unloading the upper half of a full stack into <paramref name="empty"/>
    /// as one magazine. Returns how many objects went into it: MagazineSize, or 0 when there was room anyway (a drain
    /// made some in the meantime).
    /// </summary>
    public int UnloadAndPush(nint* empty, void* obj)
    {
        if (Push(obj))
        {
            return 0;
        }

        Entries.Slice(Limit - MagazineSize, MagazineSize).CopyTo(new Span<nint>(empty, MagazineSize));
        Count -= MagazineSize;
        Push(obj);
        return MagazineSize;
    }

    /// <summary>Puts objects just taken from slabs on the stack and pops one; returns how many did not fit (left at the start of <paramref name="objects"/>).</summary>
    public int FillAndPop(Span<nint> objects, out void* obj)
    {
        int fit = Math.Min(objects.Length, Limit - (int)Count);
        objects[^fit..].CopyTo(Entries[(int)Count..]);
        Count += fit;
        obj = Pop();
        return objects.Length - fit;
    }

    /// <inheritdoc/>
    public override void TakeAllAsHolder()
    {
        int start = _seen;
        int end = Math.Max(start, (int)Volatile.Read(ref PerThreadBlock.Header(Block)->Count));
        Take(Entries[start..end]);
        _seen = end;
    }

    /// <inheritdoc/>
    public override void TakeAllAsOwner()
    {
        Take(Entries[..(int)Count]);
        Count = 0;
    }

    /// <inheritdoc/>
    protected override void Reconcile()
    {
        int taken = _seen;
        int present = Math.Max(0, (int)Count - taken);
        Entries.Slice(taken, present).CopyTo(Entries);
        Count = present;
        _seen = 0;
    }

    /// <inheritdoc/>
    public override void ReturnTaken()
    {
        nint[] objects;
        lock (_taken)
        {
            objects = [.. _taken];
            _taken.Clear();
        }

        if (objects.Length != 0)
        {
            Cache.ReturnObjects(objects);
        }
    }

    private void Take(ReadOnlySpan<nint> objects)
    {
        lock (_taken)
        {
            foreach (nint obj in objects)
            {
                _taken.Add(obj);
            }
        }
    }
}
