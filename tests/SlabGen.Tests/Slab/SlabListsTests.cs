// The slab lists' invariants (SlabLists.Verify): every slab on the list its in-use count belongs on, and the active
// count the sum of the in-use counts, after two threads allocate and free each other's objects.
namespace SlabGen.Tests.Slab;

public sealed unsafe class SlabListsTests
{
    [Fact]
    public void After_cross_thread_churn_every_slab_is_on_its_list_and_the_active_count_adds_up()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("lists-churn", 120, 0, pages: pages);
        var handoff = new System.Collections.Concurrent.BlockingCollection<nint>(4096);
        long corrupted = 0;
        var producer = new Thread(() =>
        {
            var random = new Random(7);
            var mine = new List<nint>();
            for (int i = 0; i < 60_000; i++)
            {
                var obj = (long*)cache.Alloc();
                obj[0] = (long)obj ^ 0x5a5a;
                if (random.Next(3) == 0)
                {
                    mine.Add((nint)obj);       // freed by this thread later
                }
                else
                {
                    handoff.Add((nint)obj);    // freed by the other thread
                }

                if (mine.Count > 500)
                {
                    mine.ForEach(o => cache.Free((void*)o));
                    mine.Clear();
                }
            }

            mine.ForEach(o => cache.Free((void*)o));
            handoff.CompleteAdding();
        });
        var consumer = new Thread(() =>
        {
            foreach (nint obj in handoff.GetConsumingEnumerable())
            {
                if (((long*)obj)[0] != (obj ^ 0x5a5a))
                {
                    Interlocked.Increment(ref corrupted);
                }

                cache.Free((void*)obj);
            }
        });
        producer.Start();
        consumer.Start();
        Assert.True(producer.Join(TimeSpan.FromSeconds(60)) && consumer.Join(TimeSpan.FromSeconds(60)), "threads did not finish");

        Assert.Equal(0, corrupted);
        Assert.Null(cache.VerifySlabLists());
        Assert.Equal(0, cache.LiveObjects);
        cache.Shrink();
        Assert.Null(cache.VerifySlabLists());
        Assert.Equal(0, cache.ActiveObjects);
    }

    [Fact]
    public void A_slab_on_the_wrong_list_is_found_and_named()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("lists-wrong", 64, 0, pages: pages);
        void* obj = cache.Alloc();
        Assert.Null(cache.VerifySlabLists());
        SlabPage* slab = SlabPage.Of(PageAllocator.HeadFrameOf(obj));
        int inUse = slab->InUse;

        slab->InUse = 0;                                     // an in-use slab that claims to be empty
        string? problem = cache.VerifySlabLists();
        slab->InUse = inUse;

        Assert.NotNull(problem);
        Assert.Contains("0 of", problem, StringComparison.Ordinal);
        Assert.Null(cache.VerifySlabLists());
        cache.Free(obj);
    }
}
