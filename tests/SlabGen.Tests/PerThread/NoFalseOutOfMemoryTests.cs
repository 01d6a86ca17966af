namespace SlabGen.Tests.PerThread;

/// <summary>
/// Under a cap, nothing a thread or a cache parks may make an allocation fail: before reporting failure the
/// allocator drains every thread's page lists and every cache's array caches, depot and empty slabs, and retries.
/// </summary>
public sealed unsafe class NoFalseOutOfMemoryTests
{
    private const long OneArena = 4L << 20;

    [Fact]
    public void Pages_freed_on_the_same_thread_come_back_as_one_max_order_block()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = OneArena });
        FillAndFreeOrder0(pages);
        Assert.True(pages.BuddyInfo().PerThreadPages > 0, "the freeing thread keeps some pages on its list");

        void* block = pages.AllocPages(PageAllocator.MaxOrder);

        Assert.True(block != null);
        pages.FreePages(block, PageAllocator.MaxOrder);
    }

    [Fact]
    public void Pages_freed_by_a_thread_that_exited_come_back()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = OneArena });
        ParkedThread.RunAndExit(() => FillAndFreeOrder0(pages));

        void* block = pages.AllocPages(PageAllocator.MaxOrder);

        Assert.True(block != null);
        pages.FreePages(block, PageAllocator.MaxOrder);
    }

    public enum Freer
    {
        SameThread,
        ExitedThread,
        LiveThread,
    }

    [Theory]
    [InlineData(Freer.SameThread)]
    [InlineData(Freer.ExitedThread)]
    [InlineData(Freer.LiveThread)]
    public void A_second_cache_gets_everything_a_first_one_freed(Freer freer)
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = OneArena });
        using KmemCache a = KmemCache.Create("a", 64, 0, pages: pages);
        using KmemCache b = KmemCache.Create("b", 64, 0, pages: pages);
        long filled = 0;
        void FillAndFreeA() => filled = FillAndFree(a);
        using ParkedThread? parked = freer == Freer.LiveThread ? new ParkedThread(FillAndFreeA) : null;
        if (freer == Freer.SameThread)
        {
            FillAndFreeA();
        }
        else if (freer == Freer.ExitedThread)
        {
            ParkedThread.RunAndExit(FillAndFreeA);
        }

        Assert.Equal(PageAllocator.PageSize / 64 * 1024, filled);
        Assert.Equal(0, a.LiveObjects);

        long second = FillAndFree(b);

        Assert.Equal(filled, second);
        Assert.Equal(0, a.SlabCount);
    }

    [Fact]
    public void Atomic_reclaims_its_own_thread_and_exited_threads_without_waiting_for_live_ones()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = OneArena });
        FillAndFreeOrder0(pages);
        void* own = pages.AllocPages(PageAllocator.MaxOrder, GfpFlags.Atomic);
        Assert.True(own != null, "Atomic drains the calling thread's own list");
        pages.FreePages(own, PageAllocator.MaxOrder);

        ParkedThread.RunAndExit(() => FillAndFreeOrder0(pages));
        void* exited = pages.AllocPages(PageAllocator.MaxOrder, GfpFlags.Atomic);
        Assert.True(exited != null, "Atomic drains the lists of exited threads");
        pages.FreePages(exited, PageAllocator.MaxOrder);

        using var live = new ParkedThread(() => FillAndFreeOrder0(pages));
        Assert.True(pages.AllocPages(PageAllocator.MaxOrder, GfpFlags.Atomic | GfpFlags.NoWarn) == null,
            "Atomic does not wait for a live thread");
        void* kernel = pages.AllocPages(PageAllocator.MaxOrder);
        Assert.True(kernel != null, "Kernel drains live threads too");
        pages.FreePages(kernel, PageAllocator.MaxOrder);
    }

    [Fact]
    public void Atomic_allocations_of_a_cache_reuse_what_another_cache_freed_on_this_thread()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = OneArena });
        using KmemCache a = KmemCache.Create("atomic-a", 128, 0, pages: pages);
        using KmemCache b = KmemCache.Create("atomic-b", 128, 0, pages: pages);
        long filled = FillAndFree(a);

        Assert.Equal(filled, FillAndFree(b, GfpFlags.Atomic));
    }

    [Fact]
    public void Threads_that_find_another_thread_taking_the_last_arena_from_the_OS_wait_for_it_instead_of_failing()
    {
        // Four threads start on a fresh allocator capped at two arenas at once: two reserve the arenas and map them,
        // the others find the cap reached and no free page yet. Before the fix about one start in forty failed.
        const int Threads = 4;
        for (int round = 0; round < 150; round++)
        {
            using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 2 * OneArena, PerThreadPages = 0 });
            var blocks = new nint[Threads];
            Stress.RunThreads(Threads, (self, barrier) =>
            {
                barrier.SignalAndWait();
                blocks[self] = (nint)pages.AllocPages(0);
            });

            Assert.All(blocks, block => Assert.NotEqual(0, block));
            Assert.Equal(0, pages.FailedAllocations);
            Assert.Equal(Threads, blocks.Distinct().Count());
            foreach (nint block in blocks)
            {
                pages.FreePages((void*)block, 0);
            }

            Assert.Equal((long)pages.ArenaCount << PageAllocator.MaxOrder, pages.BuddyInfo().FreePages);
        }
    }

    /// <summary>Allocates every order-0 page of the cap, writes each, frees them all.</summary>
    internal static void FillAndFreeOrder0(PageAllocator pages)
    {
        var blocks = new List<nint>();
        void* block;
        while ((block = pages.AllocPages(0, GfpFlags.Kernel | GfpFlags.NoWarn)) != null)
        {
            *(long*)block = blocks.Count;
            blocks.Add((nint)block);
        }

        Assert.Equal(pages.MaxBytes!.Value / PageAllocator.PageSize, blocks.Count);
        for (int i = 0; i < blocks.Count; i++)
        {
            Assert.Equal(i, *(long*)blocks[i]);
            pages.FreePages((void*)blocks[i], 0);
        }
    }

    /// <summary>Allocates objects until the cache fails, checks their contents, frees them all; returns how many.</summary>
    internal static long FillAndFree(KmemCache cache, GfpFlags flags = GfpFlags.Kernel)
    {
        var objects = new List<nint>();
        void* obj;
        while ((obj = cache.Alloc(flags | GfpFlags.NoWarn)) != null)
        {
            *(long*)obj = objects.Count;
            objects.Add((nint)obj);
        }

        for (int i = 0; i < objects.Count; i++)
        {
            Assert.Equal(i, *(long*)objects[i]);
            cache.Free((void*)objects[i]);
        }

        return objects.Count;
    }
}
