using System.Collections.Concurrent;

namespace SlabGen.Tests.Pages;

public sealed unsafe class PageAllocatorConcurrencyTests
{
    [Theory]
    [InlineData(16, 3)] // the thread lists keep orders 0..3
    [InlineData(64, 5)] // ... and 0..5
    public void Threads_freeing_each_others_blocks_keep_contents_intact_and_everything_coalesces(int perThreadPages, int maxOrder)
    {
        const int ThreadCount = 3;
        const int Operations = 60_000;
        using var pages = new PageAllocator(new PageAllocatorOptions { PerThreadPages = perThreadPages });
        var inboxes = Enumerable.Range(0, ThreadCount).Select(_ => new ConcurrentQueue<Block>()).ToArray();
        long checkedBlocks = 0;

        void Work(int self, Barrier barrier)
        {
            var random = new Random(self);
            var kept = new List<Block>();
            for (int i = 0; i < Operations; i++)
            {
                int order = random.Next(8) == 0 ? random.Next(1, maxOrder + 1) : 0;
                var block = Block.Allocate(pages, order, ((ulong)self << 56) | (uint)i);
                if (random.Next(2) == 0)
                {
                    inboxes[(self + 1) % ThreadCount].Enqueue(block);
                }
                else
                {
                    kept.Add(block);
                }

                if (kept.Count > 32)
                {
                    kept[0].VerifyAndFree(pages);
                    kept.RemoveAt(0);
                    Interlocked.Increment(ref checkedBlocks);
                }

                while (inboxes[self].TryDequeue(out Block received))
                {
                    received.VerifyAndFree(pages);
                    Interlocked.Increment(ref checkedBlocks);
                }
            }

            kept.ForEach(b => b.VerifyAndFree(pages));
            barrier.SignalAndWait();
            while (inboxes[self].TryDequeue(out Block received))
            {
                received.VerifyAndFree(pages);
            }

            pages.DrainPerThreadPages();
        }

        Stress.RunThreads(ThreadCount, Work);
        Assert.True(checkedBlocks > ThreadCount * Operations / 2, $"only {checkedBlocks} blocks were checked");
        Assert.Equal(pages.ArenaCount, pages.BuddyInfo().FreeBlocks[PageAllocator.MaxOrder]);
        Assert.Equal((long)pages.ArenaCount * 1024, pages.BuddyInfo().FreePages);
    }

    [Fact]
    public void A_full_thread_list_spills_its_coldest_pages_to_the_buddy_lists()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { PerThreadPages = 4 });
        var blocks = Enumerable.Range(0, 10).Select(_ => (nint)pages.AllocPages(0)).ToList();
        blocks.ForEach(b => pages.FreePages((void*)b, 0));

        int cached = PerThreadPageList.Find(pages.Id, pages)!.Pages;
        Assert.InRange(cached, 1, 4);
        Assert.Equal(1024 - cached, pages.BuddyInfo().FreePages);
        void* again = pages.AllocPages(0);
        Assert.True(again == (void*)blocks[^1], "the most recently freed (hottest) page is reused first");
        pages.FreePages(again, 0);
    }

    [Fact]
    public void Pages_cached_by_a_thread_that_exits_go_back_to_the_buddy_lists()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { PerThreadPages = 64 });
        var thread = new Thread(() => AllocateAndFreeTenPages(pages));
        thread.Start();
        thread.Join();
        Assert.Equal(1014, pages.BuddyInfo().FreePages);

        pages.DrainPerThreadPages();
        Assert.Equal(1024, pages.BuddyInfo().FreePages);
        Assert.Equal(1, pages.BuddyInfo().FreeBlocks[PageAllocator.MaxOrder]);
    }

    private static void AllocateAndFreeTenPages(PageAllocator pages)
    {
        var blocks = Enumerable.Range(0, 10).Select(_ => (nint)pages.AllocPages(0)).ToList();
        blocks.ForEach(b => pages.FreePages((void*)b, 0));
    }

    /// <summary>A block filled with one 64-bit pattern, so any foreign write shows.</summary>
    private readonly record struct Block(nint Address, int Order, ulong Pattern)
    {
        private Span<ulong> Words => new((void*)Address, (PageAllocator.PageSize << Order) / sizeof(ulong));

        public static Block Allocate(PageAllocator pages, int order, ulong pattern)
        {
            void* address = pages.AllocPages(order);
            Assert.True(address != null);
            var block = new Block((nint)address, order, pattern);
            block.Words.Fill(pattern);
            return block;
        }

        public void VerifyAndFree(PageAllocator pages)
        {
            int bad = Words.IndexOfAnyExcept(Pattern);
            Assert.True(bad < 0, $"block 0x{Address:x} word {bad} was overwritten");
            pages.FreePages((void*)Address, Order);
        }
    }
}
