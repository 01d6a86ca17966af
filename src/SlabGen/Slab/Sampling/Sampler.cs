// The gate of sampled allocations (the kernel's KFENCE, GWP-ASan): which allocations the sampling pool takes
// (SamplePool.cs), read once per process from SLABGEN_SAMPLE or the AppContext setting SlabGen.Sample:
//   100ms (or 2s, 500us; "on" is 100ms)   by time: every interval the next allocation is sampled (the kernel's
//                                         kfence.sample_interval, 100 ms by default)
//   1/N                                   by count: every Nth allocation of a cache on a thread
//   off (or unset, 0)                     never
// By time, the fast paths pay nothing, as KFENCE's static key costs the kernel nothing between samples: at each
// interval a timer arms every thread's array-cache block (PerThreadBlock.Armed, a state the pop already tests, so the
// owner's next pop misses as on a drained block) and sets a global flag. Each armed block's next allocation goes to
// its slow path, which opens the block again (TakeSample), and the first of them to clear the flag is sampled.
// By count, the pop asks GateFires: a decrement of the thread's countdown in its block (a line the pop already writes)
// and a branch. Kmalloc above 8 KiB has no per-thread block: it reads the flag itself (LargeGateFires, inlined: one
// load by time) and counts in one shared counter by count, before taking pages. ByCount and ByTime are static readonly, so the tier-1 JIT folds every test away when sampling is off
// (and the count test when sampling is by time). KmemCache's slow path asks TakeSample and hands the allocation to
// the pool.
// The free fast paths pay nothing: a sampled object is in no arena, so the page-frame lookup of KmemCache.Free and
// Kfree sends it to their slow paths; the typed free, which reads no frame, tests MayPush instead of its null test:
// the pool is mapped below 2 GiB where it can be (SamplePool.LowBase), under every arena, so "at or above the pool's
// end" is one compare with a constant that also refuses null.
using System.Runtime.CompilerServices;

namespace SlabGen;

internal static unsafe class Sampler
{
    /// <summary>The rate when the option says only "on": KFENCE's default interval.</summary>
    public static readonly TimeSpan DefaultInterval = TimeSpan.FromMilliseconds(100);

    /// <summary>Sampling every Nth allocation of a cache on a thread.</summary>
    public static readonly bool ByCount;

    /// <summary>Sampling the next allocation after each interval.</summary>
    public static readonly bool ByTime;

    /// <summary>N, by count.</summary>
    public static readonly int Every;

    /// <summary>The interval, by time.</summary>
    public static readonly TimeSpan Interval;

    /// <summary>The pool's first byte, as an address (folded into the typed free's test), or 0.</summary>
    public static readonly nuint PoolBase;

    /// <summary>The pool's bytes, or 0 when sampling is off.</summary>
    public static readonly nuint PoolBytes;

    /// <summary>Whether the pool lies below 2 GiB, under every arena: then an address below its end may be sampled.</summary>
    public static readonly bool PoolIsLow;

    /// <summary>The pool, or null when sampling is off.</summary>
    public static readonly SamplePool? Pool;

    /// <summary>The option as read, for messages: "100ms", "1/1000", or null when off.</summary>
    public static readonly string? Rate;

    /// <summary>By time: 1 from an interval's end until an allocation takes the sample.</summary>
    private static int s_armed;

    /// <summary>By count: the allocations above 8 KiB so far (TakeLargeSample).</summary>
    private static long s_largeAllocations;

    private static readonly Timer? s_timer;

    static Sampler()
    {
        string? option = Sampling.Configured();
        if (!TryParse(option, out int every, out TimeSpan interval, out string? problem))
        {
            SlabGenEventSource.Log.DebugOptionIgnored($"{Sampling.EnvironmentVariable}={option}: {problem}; sampling stays off.");
            return;
        }

        if (every == 0 && interval == TimeSpan.Zero)
        {
            return;
        }

        SamplePool? pool = SamplePool.TryCreate(SamplePool.DefaultSlots, SamplePool.DefaultLargeSlots, out problem);
        if (pool is null)
        {
            SlabGenEventSource.Log.DebugOptionIgnored($"{Sampling.EnvironmentVariable}={option}: {problem}; sampling stays off.");
            return;
        }

        Pool = pool;
        SamplingMetrics.Register(pool);
        PoolBase = (nuint)pool.Base;
        PoolBytes = pool.Bytes;
        PoolIsLow = PoolBase + PoolBytes <= int.MaxValue;
        Every = every;
        Interval = interval;
        ByCount = every != 0;
        ByTime = !ByCount;
        Rate = ByCount ? $"1/{every}" : $"{interval.TotalMilliseconds}ms";
        if (ByTime)
        {
            s_timer = new Timer(static _ => Arm(), null, interval, interval);
        }
    }

    /// <summary>Whether sampling is on.</summary>
    public static bool Enabled
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => ByCount || ByTime;
    }

    /// <summary>
    /// The fast path's test by count, in <see cref="ArrayCache.TryPop(nint*, GfpFlags, nint)"/>: counts the allocation
    /// down and says whether it goes to the slow path to be sampled. False, folded away, otherwise.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool GateFires(nint* block) => ByCount && --block[ArrayCache.SampleCountdownIndex] < 0;

    /// <summary>
    /// The slow path's decision, for the allocation whose gate may have fired: by count, whether the thread's
    /// countdown in <paramref name="block"/> ran out (then it starts again); by time, whether this allocation is the
    /// one that disarms the flag.
    /// </summary>
    public static bool TakeSample(nint* block)
    {
        if (ByCount)
        {
            if (block == null)
            {
                return Every == 1; // a thread's first allocation from a cache, before it has a countdown
            }

            if (block[ArrayCache.SampleCountdownIndex] >= 0)
            {
                return false;
            }

            block[ArrayCache.SampleCountdownIndex] = Every - 1;
            return true;
        }

        if (block != null && Volatile.Read(ref PerThreadBlock.Header(block)->State) == PerThreadBlock.Armed)
        {
            PerThreadBlock.Disarm(block); // an atomic only when armed: a slow path pays a plain read otherwise
        }

        return ByTime && Volatile.Read(ref s_armed) != 0 && Interlocked.Exchange(ref s_armed, 0) != 0;
    }

    /// <summary>
    /// The gate of an allocation with no per-thread block to arm (kmalloc above 8 KiB, LargeKmalloc.cs), inlined in
    /// its path: by time, one load of the flag; by count, always (TakeLargeSample counts); false, folded, when off.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool LargeGateFires() => ByCount || (ByTime && Volatile.Read(ref s_armed) != 0);

    /// <summary>
    /// The decision behind <see cref="LargeGateFires"/>: by count, every Nth such allocation of the process (one shared
    /// counter, an atomic on a path that takes pages); by time, whether this allocation is the one that disarms the flag.
    /// </summary>
    public static bool TakeLargeSample() =>
        ByCount ? Interlocked.Increment(ref s_largeAllocations) % Every == 0
        : Interlocked.Exchange(ref s_armed, 0) != 0;

    /// <summary>The countdown a new block of a thread starts with: spread over 0..N-1 so threads do not sample in step.</summary>
    public static nint FirstCountdown() => ByCount ? Random.Shared.Next(Every) : 0;

    /// <summary>
    /// What an interval's end does (tests force the next allocation's sample with it): arms every thread's block of
    /// every cache, then the flag the first allocation to reach a slow path clears.
    /// </summary>
    public static void Arm()
    {
        foreach (KmemCache cache in CacheRegistry.All())
        {
            cache.ArmThreadBlocks();
        }

        Volatile.Write(ref s_armed, 1);
    }

    /// <summary>Whether <paramref name="address"/> is in the sampling pool; false, folded, when sampling is off.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool Holds(void* address) => (ByCount || ByTime) && (nuint)address - PoolBase < PoolBytes;

    /// <summary>
    /// The typed free's test of its pointer: not null, and not sampled. Sampling off, the null test alone. With a low
    /// pool one compare does both, as null is below the pool too: every address below the pool's end takes the slow path
    /// (memory a caller lent below 2 GiB too, which the slow path frees as usual), so sampling adds nothing to that free.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool MayPush(void* address) =>
        !(ByCount || ByTime) ? address != null
        : PoolIsLow ? (nuint)address >= PoolBase + PoolBytes
        : address != null && (nuint)address - PoolBase >= PoolBytes;

    /// <summary>
    /// Reads the option: <paramref name="every"/> for 1/N, <paramref name="interval"/> for a time, both 0 for off; false
    /// with the problem for anything else.
    /// </summary>
    internal static bool TryParse(string? option, out int every, out TimeSpan interval, out string? problem)
    {
        every = 0;
        interval = TimeSpan.Zero;
        problem = null;
        string text = (option ?? "").Trim();
        if (text.Length == 0 || text is "0" or "off")
        {
            return true;
        }

        if (text == "on")
        {
            interval = DefaultInterval;
            return true;
        }

        if (text.StartsWith("1/", StringComparison.Ordinal))
        {
            if (int.TryParse(text.AsSpan(2), System.Globalization.NumberStyles.None, null, out every) && every >= 1)
            {
                return true;
            }

            every = 0;
            problem = $"'{text}' is not 1/N with N a whole number from 1 to {int.MaxValue}";
            return false;
        }

        (string unit, double scale) = text.EndsWith("ms", StringComparison.Ordinal) ? ("ms", 1.0)
            : text.EndsWith("us", StringComparison.Ordinal) ? ("us", 0.001)
            : text.EndsWith('s') ? ("s", 1000.0)
            : ("", 0);
        if (scale != 0 && double.TryParse(text.AsSpan(0, text.Length - unit.Length), System.Globalization.NumberStyles.AllowDecimalPoint,
                System.Globalization.CultureInfo.InvariantCulture, out double amount) && amount * scale >= 0.001 && amount * scale <= int.MaxValue)
        {
            interval = TimeSpan.FromMilliseconds(amount * scale);
            return true;
        }

        problem = $"'{text}' is neither 1/N, an interval such as 100ms, 2s or 500us, on nor off";
        return false;
    }
}
