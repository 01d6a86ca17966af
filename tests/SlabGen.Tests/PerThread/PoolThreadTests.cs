namespace SlabGen.Tests.PerThread;

/// <summary>Thread-pool threads stay alive, idle, after their work items end: what they park must still come back.</summary>
public sealed class PoolThreadTests
{
    private const long OneArena = 4L << 20;
    private const int Arenas = 5;

    [Fact]
    public async Task Pages_parked_by_two_live_pool_threads_come_back_to_a_third()
    {
        // Room for the worst case, so no churn allocation can fail: two threads × 64 blocks of 128 KiB, plus their lists.
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = Arenas * OneArena });
        using var barrier = new Barrier(2);

        await Task.WhenAll(Task.Run(() => Churn(pages, barrier, 1)), Task.Run(() => Churn(pages, barrier, 2)));
        Assert.True(pages.BuddyInfo().PerThreadPages > 0, "the pool threads keep pages on their lists");

        ParkedThread.RunAndExit(() => Assert.Equal(Arenas, AllocAndFreeMaxOrder(pages, Arenas)));
    }

    private static unsafe void Churn(PageAllocator pages, Barrier barrier, int seed)
    {
        var random = new Random(seed);
        var held = new List<(nint Block, int Order)>();
        barrier.SignalAndWait();
        for (int i = 0; i < 20_000; i++)
        {
            if (held.Count < 64 && random.Next(2) == 0)
            {
                int order = random.Next(PerThreadPageList.MaxListOrder + 1);
                void* block = pages.AllocPages(order);
                Assert.True(block != null);
                *(int*)block = i;
                held.Add(((nint)block, order));
            }
            else if (held.Count != 0)
            {
                int at = random.Next(held.Count);
                pages.FreePages((void*)held[at].Block, held[at].Order);
                held.RemoveAt(at);
            }
        }

        held.ForEach(h => pages.FreePages((void*)h.Block, h.Order));
    }

    /// <summary>Allocates up to <paramref name="count"/> 4 MiB blocks, frees them; returns how many it got.</summary>
    private static unsafe int AllocAndFreeMaxOrder(PageAllocator pages, int count)
    {
        var blocks = new List<nint>();
        for (int i = 0; i < count; i++)
        {
            void* block = pages.AllocPages(PageAllocator.MaxOrder, GfpFlags.Kernel | GfpFlags.NoWarn);
            if (block != null)
            {
                blocks.Add((nint)block);
            }
        }

        blocks.ForEach(b => pages.FreePages((void*)b, PageAllocator.MaxOrder));
        return blocks.Count;
    }
}
