using System.Collections.Concurrent;

namespace SlabGen.Tests.Slab;

public sealed unsafe class KmemCacheConcurrencyTests
{
    [Theory]
    [InlineData(SlabFlags.None)]
    [InlineData(SlabFlags.ConsistencyChecks | SlabFlags.RedZone | SlabFlags.Poison)]
    public void Threads_freeing_each_others_objects_keep_contents_intact(SlabFlags flags)
    {
        const int ThreadCount = 3;
        const int Operations = 100_000;
        using var pages = new PageAllocator();
        KmemCache cache = KmemCache.Create("stress", 96, 0, flags, pages: pages);
        var inboxes = Enumerable.Range(0, ThreadCount).Select(_ => new ConcurrentQueue<(nint Obj, ulong Tag)>()).ToArray();
        long verified = 0;

        void VerifyAndFree(nint obj, ulong tag)
        {
            var words = new Span<ulong>((void*)obj, 12);
            Assert.True(words.IndexOfAnyExcept(tag) < 0, $"object 0x{obj:x} tagged {tag:x} was overwritten");
            cache.Free((void*)obj);
            Interlocked.Increment(ref verified);
        }

        void Work(int self, Barrier barrier)
        {
            var random = new Random(self);
            var kept = new Queue<(nint, ulong)>();
            for (int i = 0; i < Operations; i++)
            {
                ulong tag = ((ulong)self << 48) | (uint)i;
                nint obj = (nint)cache.Alloc();
                Assert.True(obj != 0);
                new Span<ulong>((void*)obj, 12).Fill(tag);
                if (random.Next(2) == 0)
                {
                    inboxes[(self + 1) % ThreadCount].Enqueue((obj, tag));
                }
                else
                {
                    kept.Enqueue((obj, tag));
                }

                if (kept.Count > 200)
                {
                    (nint o, ulong t) = kept.Dequeue();
                    VerifyAndFree(o, t);
                }

                while (inboxes[self].TryDequeue(out var received))
                {
                    VerifyAndFree(received.Obj, received.Tag);
                }
            }

            while (kept.TryDequeue(out var mine))
            {
                VerifyAndFree(mine.Item1, mine.Item2);
            }

            barrier.SignalAndWait();
            while (inboxes[self].TryDequeue(out var received))
            {
                VerifyAndFree(received.Obj, received.Tag);
            }
        }

        Stress.RunThreads(ThreadCount, Work);
        Assert.Equal(ThreadCount * Operations, verified);
        cache.Destroy(); // the exited threads' cached objects count as free: no leak report
        pages.DrainPerThreadPages();
        Assert.Equal((long)pages.ArenaCount * 1024, pages.BuddyInfo().FreePages);
    }

    [Fact]
    public void Slabs_released_on_another_live_thread_go_back_to_the_buddy_lists()
    {
        using var pages = new PageAllocator();
        KmemCache cache = KmemCache.Create("released-elsewhere", 96, 0, pages: pages);
        var worker = new Thread(() =>
        {
            var objects = Enumerable.Range(0, 2_000).Select(_ => (nint)cache.Alloc()).ToList();
            objects.ForEach(o => cache.Free((void*)o));
        });
        worker.Start();
        worker.Join();

        // A thread that lives on (here: one that only takes a slabinfo snapshot and a shrink) reaps the exited
        // worker's array cache and releases the empty slabs; their pages must not stay parked on that thread.
        var reaper = new Thread(() =>
        {
            _ = SlabInfo.Snapshot();
            cache.Shrink();
        });
        reaper.Start();
        reaper.Join();
        cache.Destroy();

        Assert.Equal((long)pages.ArenaCount * 1024, pages.BuddyInfo().FreePages);
    }

    [Fact]
    public void Objects_cached_by_a_thread_that_exits_go_back_to_the_cache()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { PerThreadPages = 0 });
        KmemCache cache = KmemCache.Create("exiting", 64, 0, pages: pages);
        var thread = new Thread(() =>
        {
            var objects = Enumerable.Range(0, 50).Select(_ => (nint)cache.Alloc()).ToList();
            objects.ForEach(o => cache.Free((void*)o));
        });
        thread.Start();
        thread.Join();

        Assert.True(cache.ActiveObjects > 0, "the exited thread's array cache still held objects");
        Assert.True(cache.Shrink() > 0, "Shrink reaped the exited thread's objects and released their slabs");
        Assert.Equal(0, cache.ActiveObjects);
        Assert.Equal(0, cache.SlabCount);
        cache.Destroy();
        Assert.Equal(1024, pages.BuddyInfo().FreePages);
    }

    [Fact]
    public void A_cache_destroys_without_a_leak_report_after_a_thread_allocated_freed_and_exited()
    {
        KmemCache cache = KmemCache.Create("thread-then-destroy", 128, 0);
        var thread = new Thread(() =>
        {
            void* obj = cache.Alloc();
            cache.Free(obj);
        });
        thread.Start();
        thread.Join();

        cache.Destroy();
        Assert.DoesNotContain(SlabInfo.Snapshot(), e => e.Name == "thread-then-destroy");
    }

    [Fact]
    public void A_live_object_freed_by_another_thread_is_not_a_leak()
    {
        KmemCache cache = KmemCache.Create("handoff", 128, 0);
        void* obj = cache.Alloc();
        var thread = new Thread(() => cache.Free(obj));
        thread.Start();
        thread.Join();
        cache.Destroy();
        Assert.Throws<ObjectDisposedException>(() => cache.Alloc());
    }
}
