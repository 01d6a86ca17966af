using System.Collections.Concurrent;
using System.Diagnostics;

namespace SlabGen.Tests.PerThread;

/// <summary>
/// Three threads allocate, check and free objects and page blocks across threads under a tight cap while a fourth
/// shrinks, trims and drains them: no allocation may fail while the live memory fits the cap with room to spare,
/// no object may be handed out twice or change while live, and everything comes back at the end.
/// </summary>
public sealed unsafe class DrainStressTests
{
    private const int Workers = 3;
    private const int ObjectSize = 256;
    // Worst case, every live object on a slab of its own (1,500 pages), 16 live blocks of up to 4 pages per worker
    // (192) and what the other workers refill while one fails (2 magazines of 54 objects each, 324): 2,016 of the
    // cap's 2,048 pages. Any failure is false: parked objects and pages must be reclaimed first.
    private const long MaxLiveObjects = 1_500;
    private const int MaxLivePagesPerWorker = 16;

    [Fact]
    public void Allocations_never_fail_falsely_while_another_thread_shrinks_trims_and_drains() =>
        ChildProcess.Run(Body, TimeSpan.FromSeconds(60));

    /// <summary>The stress run itself, in a child process: a race here may crash rather than fail an assertion.</summary>
    private static void Body()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8L << 20 });
        KmemCache cache = KmemCache.Create("drain-stress", ObjectSize, 0, pages: pages);
        var handOff = new ConcurrentQueue<(nint Object, long Stamp)>();
        long live = 0;
        long falseFailures = 0;
        long corrupted = 0;
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(3));
        var errors = new ConcurrentQueue<Exception>();

        var drainer = new Thread(() =>
        {
            try
            {
                while (!stop.IsCancellationRequested)
                {
                    cache.Shrink();
                    pages.DrainPerThreadPages();
                    pages.Trim();
                    _ = cache.LiveObjects + pages.BuddyInfo().PerThreadPages;
                    Thread.Yield();
                }
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        });

        var workers = Enumerable.Range(0, Workers).Select(self => new Thread(() =>
        {
            try
            {
                var random = new Random(self);
                var blocks = new List<(nint Block, int Order)>();
                long stamp = (long)self << 40;
                while (!stop.IsCancellationRequested)
                {
                    if (Interlocked.Read(ref live) < MaxLiveObjects && random.Next(3) != 0)
                    {
                        var obj = (long*)cache.Alloc();
                        if (obj == null)
                        {
                            Interlocked.Increment(ref falseFailures);
                            continue;
                        }

                        Interlocked.Increment(ref live);
                        stamp++;
                        Fill(obj, stamp);
                        handOff.Enqueue(((nint)obj, stamp));
                    }
                    else if (handOff.TryDequeue(out (nint Object, long Stamp) item))
                    {
                        // Freed by whichever thread dequeues it: mostly another than the allocating one.
                        if (!Check((long*)item.Object, item.Stamp))
                        {
                            Interlocked.Increment(ref corrupted);
                        }

                        cache.Free((void*)item.Object);
                        Interlocked.Decrement(ref live);
                    }

                    if (blocks.Count < MaxLivePagesPerWorker && random.Next(4) == 0)
                    {
                        int order = random.Next(3);
                        void* block = pages.AllocPages(order);
                        if (block == null)
                        {
                            Interlocked.Increment(ref falseFailures);
                            continue;
                        }

                        *(long*)block = stamp;
                        blocks.Add(((nint)block, order));
                    }
                    else if (blocks.Count != 0 && random.Next(3) == 0)
                    {
                        (nint block, int order) = blocks[^1];
                        blocks.RemoveAt(blocks.Count - 1);
                        pages.FreePages((void*)block, order);
                    }
                }

                blocks.ForEach(b => pages.FreePages((void*)b.Block, b.Order));
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
            }
        })).ToList();

        var clock = Stopwatch.StartNew();
        drainer.Start();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());
        drainer.Join();
        Assert.Empty(errors);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(30), $"bounded: took {clock.Elapsed}");

        while (handOff.TryDequeue(out (nint Object, long Stamp) item))
        {
            Assert.True(Check((long*)item.Object, item.Stamp));
            cache.Free((void*)item.Object);
        }

        Assert.Equal(0, falseFailures);
        Assert.Equal(0, corrupted);
        Assert.Equal(0, cache.LiveObjects);
        cache.Shrink();
        pages.Trim();
        Assert.Equal((0L, 0), (cache.SlabCount, pages.ArenaCount));
        cache.Destroy();
    }

    private static void Fill(long* obj, long stamp)
    {
        for (int i = 0; i < ObjectSize / sizeof(long); i++)
        {
            obj[i] = stamp ^ i;
        }
    }

    private static bool Check(long* obj, long stamp)
    {
        for (int i = 0; i < ObjectSize / sizeof(long); i++)
        {
            if (obj[i] != (stamp ^ i))
            {
                return false;
            }
        }

        return true;
    }
}
