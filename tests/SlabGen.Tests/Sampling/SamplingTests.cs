namespace SlabGen.Tests.Sampling;

using System.Collections.Concurrent;
using Kmem = SlabGen.Kmem;
using Option = SlabGen.Sampling;

/// <summary>
/// Sampled guard-page allocations (docs/sampling.md): each case runs in a child process with SLABGEN_SAMPLE set, since
/// the option is read once per process; the faulting cases die there, and their report is read from the child's output.
/// </summary>
public sealed unsafe class SamplingTests
{
    private const string EveryAllocation = "1/1";

    [Theory]
    [InlineData("100ms", 0, 100.0)]
    [InlineData("2s", 0, 2000.0)]
    [InlineData("500us", 0, 0.5)]
    [InlineData("on", 0, 100.0)]
    [InlineData("1/1000", 1000, 0.0)]
    [InlineData(" 1/1 ", 1, 0.0)]
    [InlineData("off", 0, 0.0)]
    [InlineData("", 0, 0.0)]
    [InlineData(null, 0, 0.0)]
    public void The_option_reads_an_interval_a_count_or_off(string? option, int every, double milliseconds)
    {
        Assert.True(Sampler.TryParse(option, out int parsedEvery, out TimeSpan interval, out string? problem), problem);
        Assert.Equal(every, parsedEvery);
        Assert.Equal(milliseconds, interval.TotalMilliseconds, 6);
    }

    [Theory]
    [InlineData("1/0")]
    [InlineData("1/-3")]
    [InlineData("1/x")]
    [InlineData("100")]
    [InlineData("-5ms")]
    [InlineData("fast")]
    [InlineData("0us")]
    public void A_bad_option_is_refused_with_the_reason(string option)
    {
        Assert.False(Sampler.TryParse(option, out _, out _, out string? problem));
        Assert.Contains(option.Trim(), problem);
    }

    [Fact]
    public void Sampling_is_off_by_default_and_costs_no_pool()
    {
        Assert.False(Option.IsEnabled);
        Assert.Equal("off", Option.Rate);
        Assert.Equal(default, Option.GetStatistics());
        var p = (byte*)Kmem.Kmalloc(64);
        Assert.False(Sampler.Holds(p));
        Kmem.Kfree(p);
    }

    [Fact]
    public void An_unreadable_option_leaves_sampling_off() =>
        ChildProcess.Run(UnreadableOption, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, "sometimes"));

    private static void UnreadableOption()
    {
        Assert.False(Option.IsEnabled);
        var p = (byte*)Kmem.Kmalloc(64);
        Assert.False(Sampler.Holds(p));
        Kmem.Kfree(p);
    }

    [Fact]
    public void Every_allocation_sampled_keeps_objects_usable_counted_and_freeable_by_every_route() =>
        ChildProcess.Run(SampledObjectsWork, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, EveryAllocation));

    private static void SampledObjectsWork()
    {
        Assert.True(Option.IsEnabled);
        Assert.Equal("1/1", Option.Rate);
        Assert.True(Option.GuardPages);
        Assert.True(Option.ReportsFaults);
        Assert.True(Sampler.PoolIsLow, $"the pool is at 0x{Sampler.PoolBase:x}, not below 2 GiB");

        using var cache = KmemCache.Create("sampled-48", 48, 16);
        var objects = new List<nint>();
        for (int i = 0; i < 20; i++)
        {
            var p = (byte*)cache.Alloc();
            Assert.True(Sampler.Holds(p));
            Assert.Equal(0u, (nuint)p % 16);
            Assert.Same(cache, KmemCache.CacheOf(p));
            new Span<byte>(p, 48).Fill((byte)i);
            objects.Add((nint)p);
        }

        // Both sides: half the objects end at their page's end (against the right guard page), half start at its start.
        Assert.Contains(objects, p => (p + 48) % 4096 == 0);
        Assert.Contains(objects, p => p % 4096 == 0);
        Assert.Equal(20, cache.LiveObjects);
        Assert.Contains("still has objects", Assert.Throws<InvalidOperationException>(cache.Destroy).Message);

        var visited = new List<nint>();
        foreach (nint p in cache)
        {
            visited.Add(p);
        }

        Assert.Equal(objects.Order(), visited.Order());
        for (int i = 0; i < objects.Count; i++)
        {
            Assert.True(new Span<byte>((byte*)objects[i], 48).IndexOfAnyExcept((byte)i) < 0);
            cache.Free((void*)objects[i]);
        }

        Assert.Equal(0, cache.LiveObjects);
        Assert.Contains("\n# sampling 1/1: ", SlabInfo.Format());
        SamplingStatistics statistics = Option.GetStatistics();
        Assert.Equal(0, statistics.InUse);
        Assert.True(statistics.Sampled >= 20 && statistics.Freed >= 20, statistics.ToString());

        // kmalloc: the size asked for is the usable size; Kfree, Krealloc and Kzalloc work on sampled memory.
        var k = (byte*)Kmem.Kmalloc(50);
        Assert.True(Sampler.Holds(k));
        Assert.Equal((nuint)50, Kmem.Ksize(k));
        Assert.Equal(50, Kmem.AsSpan(k).Length);
        k[49] = 7;
        var grown = (byte*)Kmem.Krealloc(k, 100);
        Assert.Equal(7, grown[49]);
        Kmem.Kfree(grown);
        var z = (byte*)Kmem.Kzalloc(200);
        Assert.True(new Span<byte>(z, 200).IndexOfAnyExcept((byte)0) < 0);
        Kmem.Kfree(z);

        // A kmalloc allocator of its own samples too, and keeps the size asked for.
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8 << 20 });
        using var own = new KmallocAllocator(pages, "sampled-own");
        var o = (byte*)own.Kmalloc(33);
        Assert.True(Sampler.Holds(o));
        Assert.Equal((nuint)33, Kmem.Ksize(o));
        Kmem.Kfree(o);

        // A constructor runs on a sampled object, which no slab populated.
        using var constructed = KmemCache.Create("sampled-ctor", 32, 0, SlabFlags.None, &Construct, null);
        var c = (long*)constructed.Alloc();
        Assert.True(Sampler.Holds(c));
        Assert.Equal(0x5eed, c[0]);
        constructed.Free(c);

        // Reset frees sampled objects with the rest.
        using var level = KmemCache.Create("sampled-level", 24, 0);
        for (int i = 0; i < 5; i++)
        {
            level.Alloc();
        }

        Assert.Equal(5, level.Reset());
        Assert.Equal(0, level.LiveObjects);
        level.Destroy();
    }

    private static void Construct(void* obj) => *(long*)obj = 0x5eed;

    [Fact]
    public void Bad_frees_of_sampled_objects_are_refused_and_the_allocator_stays_usable() =>
        ChildProcess.Run(BadFrees, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, EveryAllocation));

    private static void BadFrees()
    {
        using var cache = KmemCache.Create("sampled-bad", 64, 0);
        using var other = KmemCache.Create("sampled-other", 64, 0);
        var p = (byte*)cache.Alloc();
        Assert.Contains("interior pointer: it is 8 bytes from the start of sampled object",
            Assert.Throws<ArgumentException>(() => cache.Free(p + 8)).Message);
        Assert.Contains("wrong cache: the object belongs to cache 'sampled-bad'",
            Assert.Throws<ArgumentException>(() => other.Free(p)).Message);
        byte* guard = (nuint)p % 4096 == 0 ? p - 4096 : p + 64;
        Assert.Contains("guard page", Assert.Throws<ArgumentException>(() => Kmem.Kfree(guard)).Message);
        cache.Free(p);
        string doubleFree = Assert.Throws<ArgumentException>(() => cache.Free(p)).Message;
        Assert.Contains("double free: the sampled object was freed at SlabGen.Tests.Sampling.SamplingTests.BadFrees + IL_", doubleFree);
        Assert.Contains("(allocated at SlabGen.Tests.Sampling.SamplingTests.BadFrees + IL_", doubleFree);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => Kmem.Kfree(p)).Message);
        Assert.Contains("ksize", Assert.Throws<ArgumentException>(() => Kmem.Ksize(p)).Message);
        Assert.Equal(5, Option.GetStatistics().Errors); // ksize refuses without counting: it frees nothing

        var q = (byte*)cache.Alloc();
        q[63] = 1;
        cache.Free(q);
        Assert.Equal(0, cache.LiveObjects);
    }

    [Fact]
    public void A_small_overflow_inside_the_page_is_caught_on_free_and_the_object_is_freed() =>
        ChildProcess.Run(SmallOverflow, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, EveryAllocation));

    private static void SmallOverflow()
    {
        // kmalloc(50) from kmalloc-64 ends 14 bytes before the guard page when placed on the right: those bytes hold
        // the pattern. Placed on the left, the rest of the page does.
        for (int i = 0; i < 2; i++)
        {
            var p = (byte*)Kmem.Kmalloc(50);
            p[50] = 0x41;
            string message = Assert.Throws<InvalidOperationException>(() => Kmem.Kfree(p)).Message;
            Assert.Contains("sampled object: out-of-bounds write: byte 0 past its end was 0x41", message);
            Assert.Contains("allocated at SlabGen.Tests.Sampling.SamplingTests.SmallOverflow + IL_", message);
            Assert.Contains("The object was freed", message);
        }

        Assert.Equal(0, Option.GetStatistics().InUse);
        Assert.Equal(2, Option.GetStatistics().Errors);
    }

    [Fact]
    public void Typed_objects_are_sampled_and_the_typed_free_sends_them_back_to_the_pool() =>
        ChildProcess.Run(TypedObjects, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, EveryAllocation));

    private static void TypedObjects()
    {
        var handles = new List<SlabRef<SampledSpark>>();
        for (int i = 0; i < 10; i++)
        {
            SlabRef<SampledSpark> spark = SampledSpark.New(i, i * 2);
            Assert.True(Sampler.Holds(spark.AsPointer()));
            handles.Add(spark);
        }

        SlabThreadCache<SampledSpark> thread = SampledSpark.ThisThread;
        SlabRef<SampledSpark> hot = thread.Alloc();
        Assert.True(Sampler.Holds(hot.AsPointer()));
        thread.Free(hot);
        long sum = 0;
        foreach (SlabRef<SampledSpark> spark in handles)
        {
            sum += spark.Value.X + spark.Value.Y;
            SampledSpark.Free(spark);
        }

        Assert.Equal(3 * 45, sum);
        Assert.Equal(0, SampledSpark.Cache.LiveObjects);
        Assert.Equal(0, Option.GetStatistics().InUse);
    }

    [Fact]
    public void Large_kmalloc_blocks_and_slab_objects_over_a_page_are_sampled_in_large_slots() =>
        ChildProcess.Run(LargeObjects, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, EveryAllocation));

    private static void LargeObjects()
    {
        Assert.Equal(SamplePool.DefaultSlots + SamplePool.DefaultLargeSlots, Option.GetStatistics().Slots);

        // kmalloc above 8 KiB: page-aligned, the size asked for is the usable size, placed against either guard.
        var blocks = new List<nint>();
        for (int i = 0; i < 4; i++)
        {
            var p = (byte*)Kmem.Kmalloc(16384);
            Assert.True(Sampler.Holds(p));
            Assert.Equal(0u, (nuint)p % 4096);
            Assert.Equal((nuint)16384, Kmem.Ksize(p));
            Assert.Null(KmemCache.CacheOf(p));
            Kmem.AsSpan(p).Fill((byte)(i + 1));
            blocks.Add((nint)p);
        }

        Assert.Contains(blocks, p => IsRightPlaced((byte*)p, 16384));
        Assert.Contains(blocks, p => !IsRightPlaced((byte*)p, 16384));
        var grown = (byte*)Kmem.Krealloc((void*)blocks[0], 100_000);
        Assert.True(Sampler.Holds(grown));
        Assert.True(new Span<byte>(grown, 16384).IndexOfAnyExcept((byte)1) < 0);
        blocks[0] = (nint)grown;
        for (int i = 1; i < blocks.Count; i++)
        {
            Assert.True(Kmem.AsSpan((void*)blocks[i]).IndexOfAnyExcept((byte)(i + 1)) < 0);
        }

        // A freed block's pages go back to the OS (they are inaccessible either way).
        nuint grownPages = (100_000 + 4095) & ~(nuint)4095;
        Assert.Equal((int)(grownPages / 4096), SlabGen.Tests.Kmem.Residency.ResidentPages(grown, grownPages));
        blocks.ForEach(static p => Kmem.Kfree((void*)p));
        Assert.Equal(0, SlabGen.Tests.Kmem.Residency.ResidentPages(grown, grownPages));
        var zeroed = (byte*)Kmem.Kzalloc(4 << 20);
        Assert.True(Sampler.Holds(zeroed));
        Assert.True(new Span<byte>(zeroed, 4 << 20).IndexOfAnyExcept((byte)0) < 0);
        Kmem.Kfree(zeroed);

        // kmalloc-6k and a cache of its own with objects over a page: slab objects in large slots.
        var six = (byte*)Kmem.Kmalloc(5000);
        Assert.True(Sampler.Holds(six));
        Assert.Equal("kmalloc-6k", KmemCache.CacheOf(six)!.Name);
        Assert.Equal((nuint)5000, Kmem.Ksize(six));
        Kmem.Kfree(six);
        using var big = KmemCache.Create("sampled-big", 10_000, 64);
        var b = (byte*)big.Alloc();
        Assert.True(Sampler.Holds(b));
        Assert.Equal(0u, (nuint)b % 64);
        Assert.Equal(1, big.LiveObjects);
        big.Free(b);
        Assert.Equal(0, big.LiveObjects);

        // An allocator of its own names its blocks; past the large slots, blocks come from the page allocator again.
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 64 << 20 });
        using var own = new KmallocAllocator(pages, "sampled-own");
        var live = new List<nint>();
        for (int i = 0; i < SamplePool.DefaultLargeSlots + 2; i++)
        {
            live.Add((nint)own.Kmalloc(65536));
        }

        Assert.Equal(SamplePool.DefaultLargeSlots, live.Count(p => Sampler.Holds((void*)p)));
        Assert.True(Option.GetStatistics().Skipped >= 2);
        Assert.Contains("wrong cache: the object belongs to cache 'sampled-own-kmalloc-large'",
            Assert.Throws<ArgumentException>(() => big.Free((void*)live[0])).Message);
        live.ForEach(static p => Kmem.Kfree((void*)p));
        Assert.Equal(0, Option.GetStatistics().InUse);
    }

    [Fact]
    public void Bad_frees_and_overflows_of_large_sampled_blocks_are_caught_and_the_allocator_stays_usable() =>
        ChildProcess.Run(LargeMisuse, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, EveryAllocation));

    private static void LargeMisuse()
    {
        var p = (byte*)Kmem.Kmalloc(20_000);
        Assert.Contains("interior pointer: it is 4096 bytes from the start of sampled object",
            Assert.Throws<ArgumentException>(() => Kmem.Kfree(p + 4096)).Message);
        byte* guard = IsRightPlaced(p, 20_000) ? p + 20_480 : p - 4096;
        Assert.Contains("guard page", Assert.Throws<ArgumentException>(() => Kmem.Kfree(guard)).Message);
        Kmem.Kfree(p);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => Kmem.Kfree(p)).Message);

        // 20,000 bytes take five pages: the 480 bytes after the object hold the pattern, whichever side it is on.
        for (int i = 0; i < 2; i++)
        {
            var q = (byte*)Kmem.Kmalloc(20_000);
            q[20_000 + i] = 0x41;
            string message = Assert.Throws<InvalidOperationException>(() => Kmem.Kfree(q)).Message;
            Assert.Contains($"kfree(kmalloc-large, 0x{(nuint)q:x}): sampled object: out-of-bounds write: byte {i} past its end was 0x41", message);
            Assert.Contains("The object was freed", message);
        }

        Assert.Equal(0, Option.GetStatistics().InUse);
        Assert.Equal(5, Option.GetStatistics().Errors);
        var r = (byte*)Kmem.Kmalloc(20_000);
        r[19_999] = 1;
        Kmem.Kfree(r);
        Assert.Equal(0, Option.GetStatistics().InUse);
    }

    [Fact]
    public void Two_threads_allocating_and_freeing_each_others_objects_under_sampling_keep_every_byte() =>
        ChildProcess.Run(CrossThread, TimeSpan.FromSeconds(90), (Option.EnvironmentVariable, "1/7"));

    private static void CrossThread()
    {
        using var cache = KmemCache.Create("sampled-shared", 40, 0);
        (long bad, long sampled) = ExchangeAcrossTwoThreads(cache, 20_000);
        Assert.Equal(0, bad);
        Assert.True(sampled > 1000, $"{sampled} sampled");
        Assert.Equal(0, cache.LiveObjects);
        Assert.Equal(0, Option.GetStatistics().InUse);
        Assert.Equal(0, Option.GetStatistics().Errors);
    }

    [Fact]
    public void Two_threads_exchanging_large_blocks_under_sampling_keep_every_byte() =>
        ChildProcess.Run(CrossThreadLarge, TimeSpan.FromSeconds(90), (Option.EnvironmentVariable, "1/3"));

    private static void CrossThreadLarge()
    {
        (long bad, long sampled) = Exchange(3000, capacity: 4, static (_, random) =>
        {
            nuint size = (nuint)random.Next(9 << 10, 96 << 10) & ~(nuint)7;
            var p = (long*)Kmem.Kmalloc(size);
            long words = (long)Kmem.Ksize(p) / 8;
            p[0] = random.NextInt64();
            p[1] = words;
            p[words / 2] = p[0] + 1;
            p[words - 1] = p[0] * 3;
            return (nint)p;
        }, static theirs =>
        {
            var q = (long*)theirs;
            long words = (long)Kmem.Ksize(q) / 8;
            bool intact = q[1] == words && q[words - 1] == q[0] * 3 && q[words / 2] == q[0] + 1;
            Kmem.Kfree(q);
            return intact;
        });
        Assert.Equal(0, bad);
        Assert.True(sampled > 1000, $"{sampled} sampled");
        Assert.Equal(0, Option.GetStatistics().InUse);
        Assert.Equal(0, Option.GetStatistics().Errors);
    }

    /// <summary>
    /// Two threads each allocate <paramref name="perThread"/> objects (of <paramref name="cache"/> and of kmalloc, in
    /// turn), fill them with a checksum and hand them to the other, which checks and frees them. Returns the objects
    /// whose bytes were wrong and how many were sampled.
    /// </summary>
    private static (long Bad, long Sampled) ExchangeAcrossTwoThreads(KmemCache cache, int perThread) =>
        Exchange(perThread, capacity: 256, (i, random) =>
        {
            var p = (long*)(i % 2 == 0 ? cache.Alloc() : Kmem.Kmalloc(40));
            long seed = random.NextInt64();
            for (int w = 0; w < 4; w++)
            {
                p[w] = seed + w;
            }

            p[4] = (i % 2) + (seed * 7);
            return (nint)p;
        }, theirs => FreeChecked((long*)theirs, cache));

    /// <summary>
    /// Two threads each make <paramref name="perThread"/> objects with <paramref name="make"/> (given the object's
    /// number and the thread's random source) and hand them to the other through a queue of <paramref name="capacity"/>,
    /// which checks and frees each with <paramref name="checkAndFree"/> (false: its bytes were wrong). Returns how many
    /// were wrong and how many were sampled.
    /// </summary>
    private static (long Bad, long Sampled) Exchange(int perThread, int capacity, Func<int, Random, nint> make, Func<nint, bool> checkAndFree)
    {
        var handoff = new[] { new BlockingCollection<nint>(capacity), new BlockingCollection<nint>(capacity) };
        long bad = 0;
        long sampled = 0;
        void Take(nint theirs)
        {
            if (!checkAndFree(theirs))
            {
                Interlocked.Increment(ref bad);
            }
        }

        var threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            for (int i = 0; i < perThread; i++)
            {
                nint p = make(i, random);
                if (Sampler.Holds((void*)p))
                {
                    Interlocked.Increment(ref sampled);
                }

                handoff[1 - t].Add(p);
                while (handoff[t].TryTake(out nint theirs))
                {
                    Take(theirs);
                }
            }

            handoff[1 - t].CompleteAdding();
            foreach (nint theirs in handoff[t].GetConsumingEnumerable())
            {
                Take(theirs);
            }
        })).ToArray();
        foreach (Thread thread in threads)
        {
            thread.Start();
        }

        foreach (Thread thread in threads)
        {
            thread.Join();
        }

        return (bad, sampled);
    }

    /// <summary>Checks an object <see cref="ExchangeAcrossTwoThreads"/> made and frees it by its route; false (not freed) when its bytes are wrong.</summary>
    private static bool FreeChecked(long* p, KmemCache cache)
    {
        long seed = p[0];
        long kind = p[4] - (seed * 7);
        if (p[1] != seed + 1 || p[2] != seed + 2 || p[3] != seed + 3 || kind is not (0 or 1))
        {
            return false;
        }

        if (kind == 0)
        {
            cache.Free(p);
        }
        else
        {
            Kmem.Kfree(p);
        }

        return true;
    }

    [Fact]
    public void An_armed_block_misses_once_and_its_slow_path_opens_it_with_every_object_kept()
    {
        using var cache = KmemCache.Create("armed-block", 32, 0);
        var first = (long*)cache.Alloc();
        cache.Free(first); // the thread's block now holds it
        nint* block = cache.ThreadBlock();
        Assert.True(PerThreadBlock.TryArm(block));
        Assert.False(PerThreadBlock.TryArm(block)); // only an open block is armed
        Assert.Equal(PerThreadBlock.Armed, PerThreadBlock.Header(block)->State);
        nint count = PerThreadBlock.Header(block)->Count;
        Assert.Equal((nint)first, block[ArrayCache.EntriesIndex + count - 1]); // the hottest: the one just freed

        var again = (long*)cache.Alloc(); // the pop misses; the slow path opens the block and pops
        Assert.Equal(PerThreadBlock.Open, PerThreadBlock.Header(block)->State);
        Assert.True(again == first, "the object the armed block held is handed out, not lost");
        Assert.Equal(count - 1, PerThreadBlock.Header(block)->Count);
        cache.Free(again);
        Assert.Equal(0, cache.LiveObjects);
    }

    [Fact]
    public void Arming_every_millisecond_races_with_drains_and_cross_thread_frees_without_losing_a_byte() =>
        ChildProcess.Run(ArmingRaces, TimeSpan.FromSeconds(90), (Option.EnvironmentVariable, "1ms"));

    private static void ArmingRaces()
    {
        using var cache = KmemCache.Create("sampled-armed", 40, 0);
        using var stop = new CancellationTokenSource();
        var drainer = new Thread(() =>
        {
            while (!stop.IsCancellationRequested)
            {
                cache.Shrink(); // drains every thread's block, armed or not
                Sampler.Arm();
            }
        });
        drainer.Start();
        (long bad, long sampled) = ExchangeAcrossTwoThreads(cache, 30_000);
        stop.Cancel();
        drainer.Join();
        Assert.Equal(0, bad);
        Assert.True(sampled > 10, $"{sampled} sampled");
        Assert.Equal(0, cache.LiveObjects);
        Assert.Equal(0, Option.GetStatistics().InUse);
    }

    [Fact]
    public void Arming_by_hand_samples_exactly_the_next_allocation() =>
        ChildProcess.Run(ArmByHand, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, "1000s"));

    private static void ArmByHand()
    {
        using var cache = KmemCache.Create("sampled-chosen", 24, 0);
        void* before = cache.Alloc();
        Sampler.Arm();
        void* chosen = cache.Alloc();
        void* after = cache.Alloc();
        Assert.False(Sampler.Holds(before));
        Assert.True(Sampler.Holds(chosen));
        Assert.False(Sampler.Holds(after));
        Assert.Equal(1, Option.GetStatistics().Sampled);
        cache.Free(after);
        cache.Free(chosen);
        cache.Free(before);

        // A block above 8 KiB has no per-thread block to arm: it reads the flag, and the next one is the sample too.
        void* large = Kmem.Kmalloc(32768);
        Sampler.Arm();
        void* chosenLarge = Kmem.Kmalloc(32768);
        void* afterLarge = Kmem.Kmalloc(32768);
        Assert.False(Sampler.Holds(large));
        Assert.True(Sampler.Holds(chosenLarge));
        Assert.False(Sampler.Holds(afterLarge));
        Assert.Equal(2, Option.GetStatistics().Sampled);
        Kmem.Kfree(afterLarge);
        Kmem.Kfree(chosenLarge);
        Kmem.Kfree(large);
    }

    [Fact]
    public void By_time_the_next_allocation_after_each_interval_is_sampled() =>
        ChildProcess.Run(ByTime, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, "10ms"));

    private static void ByTime()
    {
        Assert.Equal("10ms", Option.Rate);
        using var cache = KmemCache.Create("sampled-by-time", 16, 0);
        var start = DateTime.UtcNow;
        int sampled = 0;
        long allocations = 0;
        while (sampled < 5 && DateTime.UtcNow - start < TimeSpan.FromSeconds(20))
        {
            void* p = cache.Alloc();
            allocations++;
            sampled += Sampler.Holds(p) ? 1 : 0;
            Assert.Equal(!Sampler.Holds(p), Sampler.MayPush(p)); // the typed free's one compare: exact for arena memory
            cache.Free(p);
        }

        Assert.Equal(5, sampled);
        Assert.False(Sampler.MayPush(null)); // the same compare refuses null
        Assert.True(allocations > 5 * 10, $"{allocations} allocations for 5 samples: not every allocation is sampled");
    }

    [Fact]
    public void A_sampled_allocation_inside_an_interrupt_scope_is_not_counted_as_the_scope_s_managed_memory() =>
        ChildProcess.Run(InInterruptContext, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, EveryAllocation));

    private static void InInterruptContext()
    {
        using var cache = KmemCache.Create("sampled-irq", 16, 0);
        void* warm = cache.Alloc();
        cache.Free(warm);
        using (InterruptContext.Enter())
        {
            void* p = cache.Alloc(GfpFlags.Atomic);
            Assert.True(Sampler.Holds(p));
            cache.Free(p);
        }

        Assert.Equal(0, InterruptContext.LastScopeManagedBytes);
    }

    [Fact]
    public void A_write_past_the_end_into_the_guard_page_faults_with_the_object_s_report() =>
        AssertFault(OverflowIntoGuardPage, "out-of-bounds access past the end of sampled object", "(object +0x0000000000000040)", "cache 'sampled-overflow'");

    private static void OverflowIntoGuardPage()
    {
        var cache = KmemCache.Create("sampled-overflow", 64, 0);
        byte* p = AllocPlaced(cache, right: true);
        p[64] = 1;
    }

    [Fact]
    public void A_write_before_the_start_into_the_guard_page_faults_with_the_object_s_report() =>
        AssertFault(UnderflowIntoGuardPage, "out-of-bounds access before the start of sampled object", "(object -0x0000000000000001)", "cache 'sampled-underflow'");

    private static void UnderflowIntoGuardPage()
    {
        var cache = KmemCache.Create("sampled-underflow", 64, 0);
        byte* p = AllocPlaced(cache, right: false);
        p[-1] = 1;
    }

    [Fact]
    public void A_read_after_free_faults_with_where_the_object_was_allocated_and_freed() =>
        AssertFault(ReadAfterFree, "use after free: sampled object", "(object +0x0000000000000010)", "freed at SlabGen.Tests.Sampling.SamplingTests.ReadAfterFree + IL_");

    private static void ReadAfterFree()
    {
        var p = (long*)Kmem.Kmalloc(64);
        Kmem.Kfree(p);
        Console.Out.WriteLine(p[2]);
    }

    [Fact]
    public void A_write_past_the_end_of_a_large_sampled_block_faults_with_its_report() =>
        AssertFault(LargeOverflow, "out-of-bounds access past the end of sampled object", "(object +0x0000000000004000)", "(16384 bytes, cache 'kmalloc-large'), live");

    [Fact]
    public void A_write_before_the_start_of_a_large_sampled_block_faults_with_its_report() =>
        AssertFault(LargeUnderflow, "out-of-bounds access before the start of sampled object", "(object -0x0000000000000001)", "cache 'kmalloc-large'");

    [Fact]
    public void An_access_far_past_a_large_block_inside_its_slot_faults_with_its_report() =>
        AssertFault(LargeFarOverflow, "out-of-bounds access past the end of sampled object", "(object +0x0000000000006000)", "cache 'kmalloc-large'");

    [Fact]
    public void An_access_far_before_a_large_block_inside_its_slot_faults_with_its_report() =>
        AssertFault(LargeFarUnderflow, "out-of-bounds access before the start of sampled object", "(object -0x0000000000002000)", "cache 'kmalloc-large'");

    [Fact]
    public void A_read_after_free_of_a_large_block_faults_with_where_it_was_allocated_and_freed() =>
        AssertFault(LargeReadAfterFree, "use after free: sampled object", "(object +0x0000000000002000)", "(65536 bytes, cache 'kmalloc-large'), freed", "freed at SlabGen.Tests.Sampling.SamplingTests.LargeReadAfterFree + IL_");

    private static void LargeOverflow() => LargeAccess(right: true, 16384);

    private static void LargeUnderflow() => LargeAccess(right: false, -1);

    private static void LargeFarOverflow() => LargeAccess(right: false, 16384 + 8192);

    private static void LargeFarUnderflow() => LargeAccess(right: true, -8192);

    private static void LargeAccess(bool right, int offset)
    {
        var p = (byte*)Kmem.Kmalloc(16384);
        if (IsRightPlaced(p, 16384) != right)
        {
            p = (byte*)Kmem.Kmalloc(16384);
        }

        p[offset] = 1;
    }

    private static void LargeReadAfterFree()
    {
        var p = (long*)Kmem.Kmalloc(65536);
        Kmem.Kfree(p);
        Console.Out.WriteLine(p[1024]);
    }

    /// <summary>Whether a sampled object larger than a page ends where its large slot's data ends (against the guard on its right).</summary>
    private static bool IsRightPlaced(byte* p, nuint span)
    {
        nuint fromLarge = (nuint)p - (Sampler.PoolBase + Sampler.Pool!.SmallBytes);
        nuint end = fromLarge + ((span + 4095) & ~(nuint)4095);
        return end % SamplePool.LargeSlotBytes == 0;
    }

    [Fact]
    public void Null_references_stay_catchable_with_the_handler_in_front_of_the_runtime_s() =>
        ChildProcess.Run(NullReferences, TimeSpan.FromSeconds(60), (Option.EnvironmentVariable, EveryAllocation));

    private static void NullReferences()
    {
        Assert.True(Option.ReportsFaults);
        int[]? array = Environment.TickCount64 < 0 ? [1] : null;
        Assert.Throws<NullReferenceException>(() => array![0]);
        long* pointer = Environment.TickCount64 < 0 ? (long*)1 : null;
        Assert.Throws<NullReferenceException>(() => *pointer);
    }

    [Fact]
    public void The_handler_s_bytes_are_its_assembly_source_assembled()
    {
        string source = Path.Combine(RepositoryRoot(), "src", "SlabGen", "Slab", "Sampling", "fault-handler-x64.S");
        string work = Directory.CreateTempSubdirectory("slabgen-handler").FullName;
        try
        {
            Run("as", $"\"{source}\" -o \"{work}/h.o\"");
            Run("objcopy", $"-O binary -j .text \"{work}/h.o\" \"{work}/h.bin\"");
            byte[] assembled = File.ReadAllBytes(Path.Combine(work, "h.bin"));
            Assert.Equal(FaultReporter.Code.ToArray(), assembled[..FaultReporter.Code.Length]);
            Assert.Equal(FaultReporter.Code.Length + 8, assembled.Length); // the data block's address follows the code
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void Run(string tool, string arguments)
    {
        using var process = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(tool, arguments) { RedirectStandardError = true })!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{tool} {arguments}: {error}");
    }

    private static string RepositoryRoot()
    {
        string? directory = AppContext.BaseDirectory;
        while (directory is not null && !File.Exists(Path.Combine(directory, "SlabGen.sln")))
        {
            directory = Path.GetDirectoryName(directory);
        }

        return directory ?? throw new InvalidOperationException("SlabGen.sln not found above the test assembly");
    }

    /// <summary>A sampled object of <paramref name="cache"/> placed against its right guard page or its left one (placements alternate).</summary>
    private static byte* AllocPlaced(KmemCache cache, bool right)
    {
        var p = (byte*)cache.Alloc();
        bool isRight = ((nuint)p + cache.ObjectSize) % 4096 == 0;
        return isRight == right ? p : (byte*)cache.Alloc();
    }

    private static void AssertFault(Action body, params string[] expected)
    {
        string output = ChildProcess.RunUnhandled(body, (Option.EnvironmentVariable, EveryAllocation));
        Assert.Contains("SlabGen sampling: invalid access at 0x", output);
        foreach (string text in expected)
        {
            Assert.Contains(text, output);
        }

        Assert.Contains("allocated at SlabGen.Tests.Sampling.SamplingTests.", output); // the method and IL offset: no symbols read
        Assert.Contains("SlabGen: the runtime's report of the fault follows.", output);
        Assert.Contains("AccessViolationException", output); // the runtime's own report still follows
    }
}

/// <summary>A [SlabCache] struct of the sampling tests (its own cache, used only in their child processes).</summary>
[SlabCache(Name = "sampled-spark")]
public partial struct SampledSpark
{
    public long X;
    public long Y;

    public SampledSpark(long x, long y)
    {
        X = x;
        Y = y;
    }
}
