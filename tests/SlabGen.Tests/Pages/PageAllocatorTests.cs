using System.Runtime.InteropServices;

namespace SlabGen.Tests.Pages;

public sealed unsafe class PageAllocatorTests
{
    private static PageAllocator NewAllocator(long? maxBytes = null, int perThreadPages = 0) =>
        new(new PageAllocatorOptions { MaxBytes = maxBytes, PerThreadPages = perThreadPages });

    [Fact]
    public void Allocating_one_page_from_a_fresh_arena_leaves_one_free_block_at_each_order_below_10()
    {
        using PageAllocator pages = NewAllocator();
        void* page = pages.AllocPages(0);

        Assert.True(page != null);
        Assert.Equal(1, pages.ArenaCount);
        Assert.Equal([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0], pages.BuddyInfo().FreeBlocks);
        Assert.Equal(1023, pages.BuddyInfo().FreePages);
    }

    [Fact]
    public void Large_blocks_leave_their_tail_frames_unwritten_yet_every_page_leads_to_its_head()
    {
        using PageAllocator pages = NewAllocator();
        byte* whole = (byte*)pages.AllocPages(PageAllocator.MaxOrder);
        byte* pageAfterHead = whole + PageAllocator.PageSize;
        Assert.Equal(PageFlags.None, pages.PageOf(pageAfterHead).Flags);
        Assert.True(pages.HeadPageOf(whole + (1023 * PageAllocator.PageSize) + 4095).Address == whole);
        Assert.True(pages.HeadPageOf(pageAfterHead).Address == whole);
        var interior = Assert.Throws<ArgumentException>(() => pages.FreePages(pageAfterHead, PageAllocator.MaxOrder));
        Assert.Contains($"interior pointer: 0x{(nuint)pageAfterHead:x} is inside the block at 0x{(nuint)whole:x}", interior.Message);
        pages.FreePages(whole, PageAllocator.MaxOrder);
        Assert.True(pages.HeadPageOf(pageAfterHead).Address == pageAfterHead, "a page of a free block is its own head");

        // Blocks of every lazy order side by side, split from one arena: each page finds its own block's head.
        var blocks = Enumerable.Range(PageFrame.EagerTailMaxOrder + 1, PageAllocator.MaxOrder - PageFrame.EagerTailMaxOrder - 1)
            .Select(order => ((nint)pages.AllocPages(order), order)).ToList();
        foreach ((nint block, int order) in blocks)
        {
            for (nint offset = 0; offset < (nint)PageAllocator.PageSize << order; offset += PageAllocator.PageSize * 3)
            {
                Assert.True(pages.HeadPageOf((void*)(block + offset)).Address == (byte*)block, $"offset {offset} of the order-{order} block");
            }

            Assert.Equal(order, pages.HeadPageOf((void*)(block + ((nint)PageAllocator.PageSize << order) - 1)).Order);
        }

        blocks.ForEach(b => pages.FreePages((void*)b.Item1, b.order));
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], pages.BuddyInfo().FreeBlocks);
    }

    [Fact]
    public void Freeing_a_page_coalesces_with_its_free_buddies_back_to_one_max_order_block()
    {
        using PageAllocator pages = NewAllocator();
        void* page = pages.AllocPages(0);
        pages.FreePages(page, 0);

        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1], pages.BuddyInfo().FreeBlocks);
    }

    [Fact]
    public void A_block_does_not_coalesce_while_its_buddy_is_allocated()
    {
        using PageAllocator pages = NewAllocator();
        byte* a = (byte*)pages.AllocPages(0);
        byte* b = (byte*)pages.AllocPages(0);
        Assert.True(((nuint)a ^ (nuint)b) == PageAllocator.PageSize, "two order-0 allocations from a fresh arena are buddies");

        pages.FreePages(a, 0);
        Assert.Equal(1, pages.BuddyInfo().FreeBlocks[0]);

        pages.FreePages(b, 0);
        Assert.Equal(0, pages.BuddyInfo().FreeBlocks[0]);
        Assert.Equal(1, pages.BuddyInfo().FreeBlocks[PageAllocator.MaxOrder]);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(7)]
    [InlineData(10)]
    public void Every_block_is_aligned_to_its_own_size(int order)
    {
        using PageAllocator pages = NewAllocator();
        var blocks = new List<nint>();
        for (int i = 0; i < 5; i++)
        {
            void* block = pages.AllocPages(order);
            Assert.True(block != null);
            Assert.Equal(0u, (nuint)block % ((nuint)PageAllocator.PageSize << order));
            blocks.Add((nint)block);
        }

        foreach (nint block in blocks)
        {
            pages.FreePages((void*)block, order);
        }

        Assert.Equal(pages.ArenaCount, pages.BuddyInfo().FreeBlocks[PageAllocator.MaxOrder]);
    }

    [Fact]
    public void PageOf_describes_head_and_tail_pages_of_an_allocated_block()
    {
        using PageAllocator pages = NewAllocator();
        byte* block = (byte*)pages.AllocPages(3);

        ref readonly PageFrame head = ref pages.PageOf(block);
        Assert.Equal(PageFlags.Head, head.Flags);
        Assert.Equal(3, head.Order);
        Assert.True(head.Address == block);
        Assert.Equal((nuint)block >> 12, head.Pfn);

        ref readonly PageFrame tail = ref pages.PageOf(block + (5 * PageAllocator.PageSize) + 17);
        Assert.Equal(PageFlags.Tail, tail.Flags);
        Assert.True(tail.Address == block + (5 * PageAllocator.PageSize));

        pages.FreePages(block, 3);
        Assert.Equal(PageFlags.Buddy, pages.PageOf(block).Flags);
        Assert.Equal(PageAllocator.MaxOrder, pages.PageOf(block).Order);
        Assert.Equal(PageFlags.None, pages.PageOf(block + (5 * PageAllocator.PageSize)).Flags);
    }

    [Fact]
    public void Atomic_never_takes_a_new_arena_and_fails_fast()
    {
        using PageAllocator pages = NewAllocator();
        Assert.True(pages.AllocPages(0, GfpFlags.Atomic) == null);
        Assert.Equal(0, pages.ArenaCount);
        Assert.Equal(1, pages.FailedAllocations);

        void* warm = pages.AllocPages(0, GfpFlags.Kernel);
        void* atomic = pages.AllocPages(2, GfpFlags.Atomic);
        Assert.True(atomic != null, "Atomic succeeds from free blocks already held");
        Assert.Equal(1, pages.ArenaCount);
        pages.FreePages(warm, 0);
        pages.FreePages(atomic, 2);
    }

    [Fact]
    public void NoWarn_failures_are_not_counted()
    {
        using PageAllocator pages = NewAllocator();
        Assert.True(pages.AllocPages(0, GfpFlags.Atomic | GfpFlags.NoWarn) == null);
        Assert.Equal(0, pages.FailedAllocations);
    }

    [Fact]
    public void MaxBytes_caps_the_arenas_and_exhaustion_returns_null()
    {
        using PageAllocator pages = NewAllocator(maxBytes: 2 * 4 * 1024 * 1024);
        void* a = pages.AllocPages(PageAllocator.MaxOrder);
        void* b = pages.AllocPages(PageAllocator.MaxOrder);
        void* c = pages.AllocPages(0);

        Assert.True(a != null && b != null);
        Assert.True(c == null);
        Assert.Equal(2, pages.ArenaCount);
        Assert.Equal(8L << 20, pages.BytesFromOs);

        pages.FreePages(a, PageAllocator.MaxOrder);
        void* d = pages.AllocPages(0);
        Assert.True(d != null, "freed memory is reused under the cap");
        pages.FreePages(d, 0);
        pages.FreePages(b, PageAllocator.MaxOrder);
    }

    [Fact]
    public void Kernel_allocations_grow_arena_by_arena()
    {
        using PageAllocator pages = NewAllocator();
        var blocks = new List<nint>();
        for (int i = 0; i < 3; i++)
        {
            blocks.Add((nint)pages.AllocPages(PageAllocator.MaxOrder));
        }

        Assert.Equal(3, pages.ArenaCount);
        Assert.Equal(3, blocks.Distinct().Count());
        foreach (nint block in blocks)
        {
            pages.FreePages((void*)block, PageAllocator.MaxOrder);
        }
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0, 64)]
    [InlineData(3, 64)]
    [InlineData(4, 0)]
    [InlineData(5, 64)]
    public void Zero_fills_memory_that_was_dirty(int order, int perThreadPages)
    {
        using PageAllocator pages = NewAllocator(perThreadPages: perThreadPages);
        nuint bytes = (nuint)PageAllocator.PageSize << order;
        byte* block = (byte*)pages.AllocPages(order);
        NativeMemory.Fill(block, bytes, 0xAB);
        pages.FreePages(block, order);

        byte* again = (byte*)pages.AllocPages(order, GfpFlags.Kernel | GfpFlags.Zero);
        Assert.True(again == block, "the same block comes back (LIFO)");
        Assert.True(new ReadOnlySpan<byte>(again, (int)bytes).IndexOfAnyExcept((byte)0) < 0);
        pages.FreePages(again, order);
    }

    [Fact]
    public void Trim_gives_fully_free_arenas_back_and_keeps_used_ones()
    {
        using PageAllocator pages = NewAllocator();
        void* a = pages.AllocPages(PageAllocator.MaxOrder);
        void* b = pages.AllocPages(PageAllocator.MaxOrder);
        void* small = pages.AllocPages(0);
        pages.FreePages(a, PageAllocator.MaxOrder);
        pages.FreePages(b, PageAllocator.MaxOrder);

        Assert.Equal(3, pages.ArenaCount);
        Assert.Equal(2L * 4 * 1024 * 1024, pages.Trim());
        Assert.Equal(1, pages.ArenaCount);

        pages.FreePages(small, 0);
        Assert.Equal(4L * 1024 * 1024, pages.Trim());
        Assert.Equal(0, pages.ArenaCount);
        AssertUsable(pages);
    }

    [Theory]
    [InlineData(0, 64, true)]
    [InlineData(3, 64, true)]
    [InlineData(4, 64, true)]
    [InlineData(5, 64, true)]
    [InlineData(5, 32, false)] // two blocks of order 5 would not fit in 32 pages
    [InlineData(6, 1024, false)]
    public void The_threads_list_keeps_blocks_up_to_order_5_that_fit_twice(int order, int perThreadPages, bool kept)
    {
        using PageAllocator pages = NewAllocator(perThreadPages: perThreadPages);
        void* block = pages.AllocPages(order);
        pages.FreePages(block, order);

        Assert.Equal(kept ? PageFlags.PerThread : PageFlags.Buddy, pages.PageOf(block).Flags);
        Assert.Equal(kept ? 1 << order : 0, PerThreadPageList.Find(pages.Id, pages)?.Pages ?? 0);
        Assert.True(pages.AllocPages(order) == block, "the same block comes back (LIFO)");
        pages.FreePages(block, order);

        pages.DrainPerThreadPages();
        Assert.Equal(PageFlags.Buddy, pages.PageOf(block).Flags);
        AssertUsable(pages);
    }

    [Fact]
    public void Trim_drains_the_calling_threads_page_list_first()
    {
        using PageAllocator pages = NewAllocator(perThreadPages: 64);
        void* page = pages.AllocPages(0);
        pages.FreePages(page, 0);
        Assert.Equal(1023, pages.BuddyInfo().FreePages);

        Assert.Equal(4L * 1024 * 1024, pages.Trim());
        Assert.Equal(0, pages.ArenaCount);
    }

    [Fact]
    public void BuddyInfo_formats_like_proc_buddyinfo()
    {
        using PageAllocator pages = NewAllocator();
        void* page = pages.AllocPages(0);

        Assert.Equal(
            "Node 0, zone   Normal      1      1      1      1      1      1      1      1      1      1      0 ",
            pages.BuddyInfo().ToString());
        pages.FreePages(page, 0);
    }

    [Fact]
    public void The_shared_allocator_works_without_configuration_and_cannot_be_disposed()
    {
        void* page = PageAllocator.Shared.AllocPages(1);
        Assert.True(page != null);
        Assert.Equal(PageFlags.Head, PageAllocator.Shared.PageOf(page).Flags);
        PageAllocator.Shared.FreePages(page, 1);

        Assert.Throws<InvalidOperationException>(PageAllocator.Shared.Dispose);
        AssertUsable(PageAllocator.Shared);
    }

    [Fact]
    public void A_disposed_allocator_refuses_further_use()
    {
        var pages = NewAllocator(perThreadPages: 64);
        void* page = pages.AllocPages(0);
        pages.FreePages(page, 0);
        pages.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pages.AllocPages(0));
        Assert.Throws<ObjectDisposedException>(() => pages.AllocPages(3));
        pages.Dispose();
    }

    // ---- bad input: a clear exception, nothing changed, the allocator fully usable afterwards ----

    [Fact]
    public void A_foreign_pointer_is_refused()
    {
        using PageAllocator pages = NewAllocator();
        using PageAllocator other = NewAllocator();
        void* mine = pages.AllocPages(0);
        void* theirs = other.AllocPages(0);
        byte* native = (byte*)NativeMemory.AlignedAlloc(4096, 4096);
        try
        {
            var e1 = Assert.Throws<ArgumentException>(() => pages.FreePages(native, 0));
            Assert.Contains("Foreign pointer", e1.Message);
            var e2 = Assert.Throws<ArgumentException>(() => pages.FreePages(theirs, 0));
            Assert.Contains("Foreign pointer", e2.Message);
            Assert.Throws<ArgumentException>(() => pages.PageOf(native));
        }
        finally
        {
            NativeMemory.AlignedFree(native);
        }

        Assert.Equal(PageFlags.Head, pages.PageOf(mine).Flags);
        Assert.Equal(PageFlags.Head, other.PageOf(theirs).Flags);
        pages.FreePages(mine, 0);
        other.FreePages(theirs, 0);
        AssertUsable(pages);
        AssertUsable(other);
    }

    [Theory]
    [InlineData(0, 0)]
    [InlineData(0, 64)]
    [InlineData(3, 0)]
    [InlineData(3, 64)]
    [InlineData(5, 64)]
    public void A_double_free_is_refused(int order, int perThreadPages)
    {
        using PageAllocator pages = NewAllocator(perThreadPages: perThreadPages);
        void* keep = pages.AllocPages(order);
        void* block = pages.AllocPages(order);
        pages.FreePages(block, order);
        BuddyInfo before = pages.BuddyInfo();

        var e = Assert.Throws<ArgumentException>(() => pages.FreePages(block, order));
        Assert.Contains("double free", e.Message);
        Assert.Equal(before.FreeBlocks, pages.BuddyInfo().FreeBlocks);

        pages.FreePages(keep, order);
        AssertUsable(pages);
    }

    [Fact]
    public void A_free_with_the_wrong_order_is_refused()
    {
        using PageAllocator pages = NewAllocator();
        void* block = pages.AllocPages(2);

        var e = Assert.Throws<ArgumentException>(() => pages.FreePages(block, 1));
        Assert.Contains("wrong order", e.Message);
        Assert.Contains("allocated with order 2, freed with order 1", e.Message);

        pages.FreePages(block, 2);
        AssertUsable(pages);
    }

    [Fact]
    public void An_interior_or_unaligned_pointer_is_refused()
    {
        using PageAllocator pages = NewAllocator();
        byte* block = (byte*)pages.AllocPages(2);

        var interior = Assert.Throws<ArgumentException>(() => pages.FreePages(block + PageAllocator.PageSize, 0));
        Assert.Contains("interior pointer", interior.Message);
        var unaligned = Assert.Throws<ArgumentException>(() => pages.FreePages(block + 8, 2));
        Assert.Contains("not page-aligned", unaligned.Message);

        pages.FreePages(block, 2);
        AssertUsable(pages);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(11)]
    public void An_order_outside_0_to_10_is_refused(int order)
    {
        using PageAllocator pages = NewAllocator();
        Assert.Throws<ArgumentOutOfRangeException>(() => pages.AllocPages(order));
        void* page = pages.AllocPages(0);
        Assert.Throws<ArgumentOutOfRangeException>(() => pages.FreePages(page, order));
        pages.FreePages(page, 0);
        AssertUsable(pages);
    }

    [Fact]
    public void Kernel_and_Atomic_together_are_refused()
    {
        using PageAllocator pages = NewAllocator(perThreadPages: 64);
        pages.FreePages(pages.AllocPages(0), 0);
        Assert.Throws<ArgumentException>(() => pages.AllocPages(0, GfpFlags.Kernel | GfpFlags.Atomic));
        AssertUsable(pages);
    }

    /// <summary>Allocates every order, checks the blocks are distinct and writable, frees all, checks full coalescing.</summary>
    internal static void AssertUsable(PageAllocator pages)
    {
        var blocks = new List<(nint Address, int Order)>();
        for (int order = 0; order <= PageAllocator.MaxOrder; order++)
        {
            byte* block = (byte*)pages.AllocPages(order);
            Assert.True(block != null, $"order {order} allocation failed");
            block[0] = (byte)order;
            block[((nuint)PageAllocator.PageSize << order) - 1] = (byte)order;
            blocks.Add(((nint)block, order));
        }

        Assert.Equal(blocks.Count, blocks.Select(b => b.Address).Distinct().Count());
        foreach ((nint address, int order) in blocks)
        {
            Assert.Equal((byte)order, ((byte*)address)[0]);
            pages.FreePages((void*)address, order);
        }

        // Other tests use the shared allocator concurrently, so only a private one must be whole again.
        if (!ReferenceEquals(pages, PageAllocator.Shared))
        {
            pages.DrainPerThreadPages();
            BuddyInfo info = pages.BuddyInfo();
            Assert.Equal(pages.ArenaCount, info.FreeBlocks[PageAllocator.MaxOrder]);
            Assert.Equal((long)pages.ArenaCount * 1024, info.FreePages);
        }
    }
}
