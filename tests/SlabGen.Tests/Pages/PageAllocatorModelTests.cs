using CsCheck;

namespace SlabGen.Tests.Pages;

/// <summary>Random operation sequences against a simple model: a list of live blocks.</summary>
public sealed unsafe class PageAllocatorModelTests
{
    private const long TwoArenas = 2L * 4 * 1024 * 1024;

    private static readonly Gen<(int Kind, int Order, int Pick, bool Atomic)> Operation =
        Gen.Select(Gen.Int[0, 2], Gen.OneOf(Gen.Int[0, 3], Gen.Int[0, PageAllocator.MaxOrder]), Gen.Int[0, int.MaxValue], Gen.Bool);

    [Fact]
    public void Random_allocs_and_frees_keep_blocks_disjoint_aligned_and_accounted_then_coalesce_fully()
    {
        Gen.Select(Operation.Array[1, 150], Gen.OneOf(Gen.Const(0), Gen.Int[1, 8], Gen.Const(64)))
            .Sample(sample => Run(sample.Item1, sample.Item2), iter: 300);
    }

    private static void Run((int Kind, int Order, int Pick, bool Atomic)[] operations, int perThreadPages)
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = TwoArenas, PerThreadPages = perThreadPages });
        var live = new List<(nint Address, int Order)>();
        foreach ((int kind, int order, int pick, bool atomic) in operations)
        {
            if (kind < 2 || live.Count == 0)
            {
                GfpFlags flags = atomic ? GfpFlags.Atomic : GfpFlags.Kernel;
                void* block = pages.AllocPages(order, flags);
                if (block == null)
                {
                    AssertNothingFitted(pages, order, atomic);
                }
                else
                {
                    Assert.Equal(0u, (nuint)block % ((nuint)PageAllocator.PageSize << order));
                    live.Add(((nint)block, order));
                }
            }
            else
            {
                int index = pick % live.Count;
                pages.FreePages((void*)live[index].Address, live[index].Order);
                live.RemoveAt(index);
            }

            AssertInvariants(pages, live);
        }

        foreach ((nint address, int order) in live)
        {
            pages.FreePages((void*)address, order);
        }

        pages.DrainPerThreadPages();
        IReadOnlyList<long> free = pages.BuddyInfo().FreeBlocks;
        Assert.Equal(pages.ArenaCount, free[PageAllocator.MaxOrder]);
        Assert.Equal(0, free.Take(PageAllocator.MaxOrder).Sum());
        pages.Trim();
        Assert.Equal(0, pages.ArenaCount);
    }

    private static void AssertNothingFitted(PageAllocator pages, int order, bool atomic)
    {
        IReadOnlyList<long> free = pages.BuddyInfo().FreeBlocks;
        Assert.Equal(0, free.Skip(order).Sum());
        Assert.True(order > PerThreadPageList.MaxListOrder || (PerThreadPageList.Find(pages.Id, pages)?.Count(order) ?? 0) == 0,
            "an allocation failed with a block of its order on the thread's list");
        Assert.True(atomic || pages.ArenaCount == 2, "a Kernel allocation failed below the cap");
    }

    private static void AssertInvariants(PageAllocator pages, List<(nint Address, int Order)> live)
    {
        long livePages = 0;
        nint end = 0;
        foreach ((nint address, int order) in live.OrderBy(b => b.Address))
        {
            Assert.True(address >= end, $"block 0x{address:x} overlaps the previous one");
            end = address + ((nint)PageAllocator.PageSize << order);
            livePages += 1L << order;

            ref readonly PageFrame head = ref pages.PageOf((void*)address);
            Assert.Equal(PageFlags.Head, head.Flags);
            Assert.Equal(order, head.Order);

            // Every page of the block leads to its head, eager tails or lazy (PageFrame.cs); the page after it does not.
            nint last = end - PageAllocator.PageSize;
            foreach (nint page in (nint[])[last, address + ((end - address) / 2), last + 100])
            {
                Assert.True(pages.HeadPageOf((void*)page).Address == (byte*)address, $"page 0x{page:x} of the order-{order} block at 0x{address:x} did not lead to its head");
            }

            Assert.Equal(order == 0 ? PageFlags.Head : order <= PageFrame.EagerTailMaxOrder ? PageFlags.Tail : PageFlags.None, pages.PageOf((void*)last).Flags);
            if ((end & (nint)(Arena.Bytes - 1)) != 0)
            {
                Assert.True(pages.HeadPageOf((void*)end).Address != (byte*)address, $"the page after the block at 0x{address:x} led to it");
            }
        }

        long total = (long)pages.ArenaCount * 1024;
        Assert.Equal(total, pages.BuddyInfo().FreePages + CachedPages(pages) + livePages);
    }

    private static int CachedPages(PageAllocator pages) => PerThreadPageList.Find(pages.Id, pages)?.Pages ?? 0;
}
