// PageAllocator.Reserve: pages kept free for Atomic allocations, taken at load time; allocations that may sleep
// leave them alone (a new arena, or failure at the cap), Trim keeps them, refusals leave the reserve unchanged.
using SlabGen.Tests.Misuse;

namespace SlabGen.Tests.Pages;

public sealed unsafe class PageReserveTests
{
    [Fact]
    public void Under_a_cap_the_reserve_is_left_to_Atomic_allocations_and_Kernel_ones_fail_first()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8 << 20, PerThreadPages = 0 });

        Assert.Equal(2 << 20, pages.Reserve(2 << 20));

        Assert.Equal(2 << 20, pages.ReservedBytes);
        var kernel = new List<nint>();
        void* block;
        while ((block = pages.AllocPages(0, GfpFlags.Kernel | GfpFlags.NoWarn)) != null)
        {
            kernel.Add((nint)block);
        }

        Assert.Equal((6 << 20) / PageAllocator.PageSize, kernel.Count); // the cap less the reserve
        var atomic = new List<nint>();
        while ((block = pages.AllocPages(0, GfpFlags.Atomic | GfpFlags.NoWarn)) != null)
        {
            *(long*)block = (long)block;
            atomic.Add((nint)block);
        }

        Assert.Equal((2 << 20) / PageAllocator.PageSize, atomic.Count);
        Assert.All(atomic, static b => Assert.Equal(b, *(long*)b));
        atomic.Concat(kernel).ToList().ForEach(b => pages.FreePages((void*)b, 0));
        Usable.Check(pages);
    }

    [Fact]
    public void Without_a_cap_Kernel_allocations_take_new_arenas_and_Trim_keeps_the_reserve()
    {
        using var pages = new PageAllocator();
        pages.Reserve(4 << 20);
        Assert.Equal(1, pages.ArenaCount);

        void* block = pages.AllocPages(0);             // may sleep: a second arena rather than a page of the reserve
        Assert.Equal(2, pages.ArenaCount);
        pages.FreePages(block, 0);
        pages.Trim();

        Assert.Equal(1, pages.ArenaCount);               // the free arena that holds the reserve stays
        Assert.Equal(0, pages.Reserve(0));
        pages.Trim();
        Assert.Equal(0, pages.ArenaCount);
    }

    [Fact]
    public void A_reserve_the_cap_cannot_hold_is_refused_and_the_old_one_stays()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8 << 20 });
        pages.Reserve(1 << 20);

        // Beyond the cap: refused outright. Within it, but with the memory in use: refused after trying.
        var beyond = Assert.Throws<ArgumentOutOfRangeException>(() => pages.Reserve(16 << 20));
        Assert.Contains("MaxBytes cap of 8,388,608", beyond.Message, StringComparison.Ordinal);
        void* held = pages.AllocPages(PageAllocator.MaxOrder);
        var error = Assert.Throws<InsufficientMemoryException>(() => pages.Reserve(8 << 20));
        Assert.Contains("MaxBytes cap of 8,388,608", error.Message, StringComparison.Ordinal);
        pages.FreePages(held, PageAllocator.MaxOrder);
        Assert.Equal(1 << 20, pages.ReservedBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => pages.Reserve(-1));
        using (InterruptContext.Enter())
        {
            Assert.Throws<InvalidOperationException>(() => pages.Reserve(4096));
        }

        Assert.Equal(1 << 20, pages.ReservedBytes);
        Usable.Check(pages);
    }

    [Fact]
    public void A_cache_grows_by_Atomic_allocations_from_the_page_reserve_in_interrupt_context()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        using KmemCache cache = KmemCache.Create("page-reserve-atomic", 256, 0, pages: pages);
        pages.Reserve(1 << 20);
        var objects = new List<nint>();
        using (InterruptContext.Enter())
        {
            for (int i = 0; i < (1 << 20) / 256; i++)
            {
                void* obj = cache.Alloc(GfpFlags.Atomic);
                Assert.True(obj != null, $"Atomic allocation {i} failed");
                objects.Add((nint)obj);
            }
        }

        cache.FreeBulk(objects.ToArray());
        Assert.Equal(0, cache.LiveObjects);
    }
}
