namespace SlabGen.Tests.PerThread;

/// <summary>Shrink, Trim, live counts and memory-pressure trims reach what every thread holds, live or exited.</summary>
[Collection(Collections.Collection)]
public sealed unsafe class DrainTests
{
    [Fact]
    public void Shrink_from_a_thread_that_never_used_the_cache_empties_a_live_threads_magazines()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("shrink-remote", 64, 0, pages: pages);
        using var parked = new ParkedThread(() => AllocAndFree(cache, 1_000));
        Assert.True(cache.CachedObjects > 0);
        Assert.True(cache.SlabCount > 0);

        long released = 0;
        ParkedThread.RunAndExit(() => released = cache.Shrink());

        Assert.True(released > 0);
        Assert.Equal((0L, 0L, 0L), (cache.SlabCount, cache.ActiveObjects, cache.CachedObjects));
        parked.Invoke(() => AllocAndFree(cache, 1_000)); // the drained thread's array cache still works
        Assert.Equal(0, cache.LiveObjects);
    }

    [Fact]
    public void Trim_from_a_thread_that_never_used_the_allocator_gets_a_live_threads_pages_and_every_arena_back()
    {
        using var pages = new PageAllocator();
        using var parked = new ParkedThread(() => AllocAndFreePages(pages));
        Assert.True(pages.BuddyInfo().PerThreadPages > 0);

        long trimmed = 0;
        ParkedThread.RunAndExit(() => trimmed = pages.Trim());

        Assert.True(trimmed > 0);
        Assert.Equal(0, pages.ArenaCount);
        Assert.Equal(0, pages.BuddyInfo().PerThreadPages);
        parked.Invoke(() => AllocAndFreePages(pages));
    }

    [Fact]
    public void An_exited_threads_cached_objects_and_pages_come_back_without_anyone_draining()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("exit-reap", 64, 0, pages: pages);
        ParkedThread.RunAndExit(() =>
        {
            AllocAndFree(cache, 1_000);
            AllocAndFreePages(pages);
        });
        Assert.True(CachedByThreads(cache) > 0, "the exited thread's stack still holds objects");

        // No Shrink, Trim, drain or slabinfo: the thread's exit is noticed after a collection.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((pages.BuddyInfo().PerThreadPages != 0 || CachedByThreads(cache) != 0) && DateTime.UtcNow < deadline)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.Equal(0, pages.BuddyInfo().PerThreadPages);
        Assert.Equal(0, CachedByThreads(cache));
        Assert.Equal(0, cache.LiveObjects);
    }

    [Fact]
    public void Reaping_an_exited_thread_after_its_caches_allocator_was_disposed_returns_everything_and_kills_nothing() =>
        ChildProcess.Run(ReapAfterDispose, TimeSpan.FromSeconds(60));

    /// <summary>In a child process: the reap runs in a finalizer, where a crash would take the process down.</summary>
    private static void ReapAfterDispose()
    {
        var pages = new PageAllocator();
        KmemCache cache = KmemCache.Create("reap-after-dispose", 64, 0, pages: pages);
        ParkedThread.RunAndExit(() =>
        {
            AllocAndFree(cache, 1_000);
            AllocAndFreePages(pages);
        });
        pages.Dispose(); // still in use by the cache: it stays
        for (int i = 0; i < 3; i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.Equal(0, CachedByThreads(cache));
        Assert.Equal(0, pages.BuddyInfo().PerThreadPages);
        Assert.True(pages.ArenaCount > 0);
        cache.Destroy();
        pages.Dispose();
        Assert.Equal(0, pages.ArenaCount);

        using var other = new PageAllocator();
        AllocAndFreePages(other);
    }

    [Fact]
    public void LiveObjects_is_exact_after_frees_on_other_threads_and_after_a_thread_exits()
    {
        using var pages = new PageAllocator();
        using KmemCache<Payload> cache = KmemCache<Payload>.Create("live-count", pages: pages);
        var objects = Enumerable.Range(0, 500).Select(_ => (nint)cache.Alloc()).ToArray();
        Assert.Equal(500, cache.LiveObjects);

        using var parked = new ParkedThread(() => FreeRange(cache, objects, 0, 300));
        Assert.Equal(200, cache.LiveObjects);
        Assert.True(cache.ActiveObjects > cache.LiveObjects, "the freeing thread caches what it freed");

        ParkedThread.RunAndExit(() => FreeRange(cache, objects, 300, 100));
        Assert.Equal(100, cache.LiveObjects);
        Assert.Equal(100, SlabInfo.Snapshot().Single(e => e.Name == "live-count").LiveObjects);

        FreeRange(cache, objects, 400, 100);
        Assert.Equal(0, cache.LiveObjects);
        Assert.Equal((nuint)sizeof(Payload), cache.ObjectSize);
        Assert.Equal((nuint)8, cache.Align);
        Assert.Equal(SlabFlags.None, cache.Flags);
    }

    [Fact]
    public void A_high_memory_load_trim_gives_every_arena_of_an_opted_in_allocator_back()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { TrimOnMemoryPressure = true });
        using KmemCache cache = KmemCache.Create("pressure-high", 256, 0, pages: pages);
        using var parked = new ParkedThread(() =>
        {
            AllocAndFree(cache, 3_000);
            AllocAndFreePages(pages);
        });
        AllocAndFree(cache, 3_000);
        Assert.True(pages.ArenaCount > 0);

        MemoryPressure.Trim(highLoad: true);

        Assert.Equal((0, 0L, 0L), (pages.ArenaCount, cache.SlabCount, cache.CachedObjects));
        AllocAndFree(cache, 100);
    }

    [Fact]
    public void Gen2_collections_trim_idle_threads_state_of_an_opted_in_allocator_and_leave_others_alone()
    {
        using var opted = new PageAllocator(new PageAllocatorOptions { TrimOnMemoryPressure = true });
        using var plain = new PageAllocator();
        using KmemCache trimmed = KmemCache.Create("pressure-gen2", 64, 0, pages: opted);
        using KmemCache kept = KmemCache.Create("pressure-kept", 64, 0, pages: plain);
        using var parked = new ParkedThread(() =>
        {
            AllocAndFree(trimmed, 2_000);
            AllocAndFree(kept, 2_000);
        });
        long keptCached = kept.CachedObjects;
        Assert.True(trimmed.CachedObjects > 0 && keptCached > 0);

        // The parked thread sits idle; the first collection may find it busy since the last trim, the next one not.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((opted.ArenaCount != 0 || trimmed.CachedObjects != 0) && DateTime.UtcNow < deadline)
        {
            GC.Collect(2, GCCollectionMode.Forced, blocking: true);
            GC.WaitForPendingFinalizers();
        }

        Assert.Equal((0, 0L), (opted.ArenaCount, trimmed.CachedObjects));
        Assert.Equal(keptCached, kept.CachedObjects);
        Assert.True(plain.ArenaCount > 0);
    }

    /// <summary>Objects in threads' magazines (not the depot), read without reaping anything, as slabinfo would.</summary>
    private static long CachedByThreads(KmemCache cache) => cache.CachedObjects - cache.DepotObjects;

    internal static void AllocAndFree(KmemCache cache, int count)
    {
        var objects = new nint[count];
        for (int i = 0; i < count; i++)
        {
            var obj = (long*)cache.Alloc();
            Assert.True(obj != null);
            *obj = i;
            objects[i] = (nint)obj;
        }

        for (int i = 0; i < count; i++)
        {
            Assert.Equal(i, *(long*)objects[i]);
            cache.Free((void*)objects[i]);
        }
    }

    internal static void AllocAndFreePages(PageAllocator pages)
    {
        var blocks = new List<(nint, int)>();
        for (int i = 0; i < 48; i++)
        {
            int order = i % 3;
            void* block = pages.AllocPages(order);
            Assert.True(block != null);
            *(int*)block = i;
            blocks.Add(((nint)block, order));
        }

        for (int i = 0; i < blocks.Count; i++)
        {
            Assert.Equal(i, *(int*)blocks[i].Item1);
            pages.FreePages((void*)blocks[i].Item1, blocks[i].Item2);
        }
    }

    private static void FreeRange(KmemCache<Payload> cache, nint[] objects, int start, int count)
    {
        foreach (nint obj in objects.AsSpan(start, count))
        {
            cache.Free((Payload*)obj);
        }
    }

    private struct Payload
    {
#pragma warning disable CS0649 // only its size matters
        public long A, B, C;
#pragma warning restore CS0649
    }
}
