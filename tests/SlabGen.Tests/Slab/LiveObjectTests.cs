// Enumerating a cache's live objects: exactly the allocated ones, once each, whatever threads cache, with frees
// during the enumeration, slabs pinned meanwhile, and other threads churning at the same time.
using SlabGen.Tests.Misuse;

namespace SlabGen.Tests.Slab;

public sealed unsafe class LiveObjectTests
{
    public static TheoryData<string, int, SlabFlags, bool> Caches => new()
    {
        { "live-64", 64, SlabFlags.None, false },
        { "live-8", 8, SlabFlags.None, false },
        { "live-ctor", 48, SlabFlags.None, true },
        { "live-redzone", 40, SlabFlags.RedZone, false },
        { "live-poison-ctor", 100, SlabFlags.Poison, true },
    };

    [Theory]
    [MemberData(nameof(Caches))]
    public void The_enumeration_visits_every_live_object_once_and_no_free_or_cached_one(string name, int size, SlabFlags flags, bool ctor)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = ctor
            ? KmemCache.Create(name, (nuint)size, 8, flags, &Construct, pages)
            : KmemCache.Create(name, (nuint)size, 8, flags, pages);
        var random = new Random(size);
        var live = new HashSet<nint>();
        var objects = new nint[3000];
        Assert.Equal(objects.Length, cache.AllocBulk(objects));
        foreach (nint obj in objects)
        {
            if (random.Next(3) == 0)
            {
                cache.Free((void*)obj); // most stay in this thread's array cache: free, though off their slab's freelist
            }
            else
            {
                live.Add(obj);
            }
        }

        var visited = new List<nint>();
        foreach (nint obj in cache)
        {
            visited.Add(obj);
        }

        Assert.Equal(live.Count, visited.Count);
        Assert.True(live.SetEquals(visited));
        Assert.Equal(cache.LiveObjects, visited.Count);
        AssertAddressOrderWithinSlabs(visited, cache);
        cache.FreeBulk([.. live]);
        Assert.Empty(Visit(cache));
    }

    [Fact]
    public void Objects_freed_during_the_enumeration_are_not_visited_afterwards_and_the_current_one_may_be_freed()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("live-free-during", 64, 0, pages: pages);
        var objects = new nint[2000];
        cache.AllocBulk(objects);
        var live = new HashSet<nint>(objects);
        var freedAhead = new HashSet<nint>();
        var visited = new List<nint>();

        foreach (nint obj in cache)
        {
            visited.Add(obj);
            nint next = obj + (nint)cache.SlotSize; // the next slot of the slab, visited after this one if it stayed live
            if (visited.Count % 3 == 0 && live.Remove(next))
            {
                cache.Free((void*)next);
                freedAhead.Add(next);
            }

            if (visited.Count % 3 == 1)
            {
                cache.Free((void*)obj);
                live.Remove(obj);
            }
        }

        Assert.NotEmpty(freedAhead);
        Assert.Empty(visited.Intersect(freedAhead));
        Assert.Equal(objects.Length - freedAhead.Count, visited.Count);
        Assert.Equal(live.Count, cache.LiveObjects);
        Assert.True(live.SetEquals(Visit(cache)));
        Assert.Null(cache.VerifySlabLists());
        cache.FreeBulk([.. live]);
    }

    [Fact]
    public void Objects_another_thread_freed_and_caches_are_not_visited()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("live-cross-thread", 128, 0, pages: pages);
        var objects = new nint[1000];
        cache.AllocBulk(objects);
        var freer = new Thread(() => cache.FreeBulk(objects.AsSpan(0, 200))); // parked in the freeing thread's cache, which stays alive
        freer.Start();
        freer.Join();

        Assert.Equal(objects[200..].Order(), Visit(cache).Order());
        cache.FreeBulk(objects.AsSpan(200));
    }

    [Fact]
    public void Slabs_stay_with_the_cache_while_an_enumeration_runs_and_Destroy_waits_for_its_end()
    {
        using var pages = new PageAllocator();
        KmemCache cache = KmemCache.Create("live-pinned", 256, 0, pages: pages);
        var objects = new nint[cache.ObjectsPerSlab * 20];
        cache.AllocBulk(objects);
        long slabs = cache.SlabCount;

        LiveObjectEnumerator enumerator = cache.GetEnumerator();
        Assert.True(enumerator.MoveNext());
        cache.FreeBulk(objects);
        Assert.Equal(0, cache.Shrink());                       // nothing leaves while the enumeration runs
        Assert.Equal(slabs, cache.SlabCount);
        var refused = Assert.Throws<InvalidOperationException>(cache.Destroy);
        Assert.Contains("enumeration", refused.Message, StringComparison.Ordinal);
        int more = 0;
        while (enumerator.MoveNext())
        {
            more++;
        }

        enumerator.Dispose();
        enumerator.Dispose();

        Assert.Equal(0, more);                                  // all were freed before the enumeration reached them
        Assert.True(cache.SlabCount <= 2, $"{cache.SlabCount} slabs after the enumeration ended");
        Usable.Check(cache);
        cache.Destroy();
        Assert.Equal(0, pages.BytesFromOs - pages.Trim());
    }

    [Fact]
    public void Enumerating_while_two_threads_churn_with_cross_thread_frees_visits_only_objects_of_the_cache_and_keeps_contents()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("live-churn", 64, 0, pages: pages);
        var handoff = new System.Collections.Concurrent.ConcurrentQueue<nint>();
        var stop = new ManualResetEventSlim();
        long corrupted = 0, foreign = 0, enumerations = 0;
        var deadline = DateTime.UtcNow.AddSeconds(2);

        Thread[] churners = [.. Enumerable.Range(0, 2).Select(t => new Thread(() =>
        {
            var random = new Random(t);
            var mine = new List<nint>();
            while (!stop.IsSet)
            {
                var obj = (long*)cache.Alloc();
                obj[1] = (long)obj * 7;
                mine.Add((nint)obj);
                if (mine.Count > 500 || random.Next(4) == 0)
                {
                    int at = random.Next(mine.Count);
                    handoff.Enqueue(mine[at]);
                    mine[at] = mine[^1];
                    mine.RemoveAt(mine.Count - 1);
                }

                while (handoff.TryDequeue(out nint other))
                {
                    if (((long*)other)[1] != other * 7)
                    {
                        Interlocked.Increment(ref corrupted);
                    }

                    cache.Free((void*)other); // often another thread's object
                }
            }

            cache.FreeBulk(mine.ToArray());
        }))];
        Array.ForEach(churners, t => t.Start());
        while (DateTime.UtcNow < deadline)
        {
            foreach (nint obj in cache)
            {
                if (KmemCache.CacheOf((void*)obj) != cache || (obj - (nint)PageAllocator.HeadFrameOf((void*)obj)->Address - SlabPage.Of(PageAllocator.HeadFrameOf((void*)obj))->Colour) % 64 != 0)
                {
                    foreign++;
                }
            }

            enumerations++;
        }

        stop.Set();
        Array.ForEach(churners, t => t.Join());
        while (handoff.TryDequeue(out nint left))
        {
            cache.Free((void*)left);
        }

        Assert.True(enumerations > 10);
        Assert.Equal(0, foreign);
        Assert.Equal(0, Interlocked.Read(ref corrupted));
        Assert.Equal(0, cache.LiveObjects);
        Assert.Empty(Visit(cache));
        Assert.Null(cache.VerifySlabLists());
    }

    [Fact]
    public void A_copy_of_an_enumerator_stops_once_either_is_disposed_and_disposing_both_unpins_once()
    {
        using var pages = new PageAllocator();
        KmemCache cache = KmemCache.Create("live-copied", 64, 0, pages: pages);
        void* obj = cache.Alloc();

        LiveObjectEnumerator enumerator = cache.GetEnumerator();
        LiveObjectEnumerator copy = enumerator;
        enumerator.Dispose();

        Assert.False(copy.MoveNext());
        copy.Dispose();
        LiveObjectEnumerator second = cache.GetEnumerator(); // reuses the buffer: the stale copy must not end this pin
        copy.Dispose();
        Assert.True(second.MoveNext());
        Assert.Equal((nint)obj, second.Current);
        Assert.Throws<InvalidOperationException>(() => { cache.Free(obj); cache.Destroy(); });
        second.Dispose();
        cache.Destroy();
        Assert.Throws<ObjectDisposedException>(() => cache.Alloc());
    }

    [Fact]
    public void A_destroyed_cache_refuses_a_new_enumeration()
    {
        using var pages = new PageAllocator();
        KmemCache cache = KmemCache.Create("live-destroyed", 64, 0, pages: pages);
        cache.Destroy();

        Assert.Throws<ObjectDisposedException>(() => Visit(cache));
    }

    [Fact]
    public void Without_the_free_checks_an_enumeration_and_a_reset_drain_the_threads_first_and_stay_exact() =>
        ChildProcess.Run(UncheckedEnumeration, environment: ("SLABGEN_DISABLE_FREE_CHECKS", "1"));

    private static void UncheckedEnumeration()
    {
        Assert.False(ArrayCache.FreeChecks);
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("live-unchecked", 64, 0, pages: pages);
        var objects = new nint[3000];
        cache.AllocBulk(objects);
        var freer = new Thread(() => cache.FreeBulk(objects.AsSpan(0, 500))); // parked in a live thread's cache
        freer.Start();
        freer.Join();
        cache.FreeBulk(objects.AsSpan(500, 500));                            // parked in this thread's cache

        Assert.Equal(objects[1000..].Order(), Visit(cache).Order());
        Assert.Equal(2000, cache.Reset());
        Assert.Equal(0, cache.LiveObjects);
        Assert.Empty(Visit(cache));
        Usable.Check(cache);
    }

    internal static List<nint> Visit(KmemCache cache)
    {
        var visited = new List<nint>();
        foreach (nint obj in cache)
        {
            visited.Add(obj);
        }

        return visited;
    }

    private static void AssertAddressOrderWithinSlabs(List<nint> visited, KmemCache cache)
    {
        nint slabMask = ~(((nint)PageAllocator.PageSize << cache.SlabOrder) - 1);
        for (int i = 1; i < visited.Count; i++)
        {
            if ((visited[i] & slabMask) == (visited[i - 1] & slabMask))
            {
                Assert.True(visited[i] > visited[i - 1], "objects of one slab come in address order");
            }
        }

        Assert.Equal(visited.Count, visited.Distinct().Count());
    }

    private static void Construct(void* obj) => *(long*)obj = 0x600d;
}
