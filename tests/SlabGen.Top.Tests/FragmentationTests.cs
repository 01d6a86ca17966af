// The kernel's fragmentation index, worked by hand from mm/vmstat.c's formula.
namespace SlabGen.Top.Tests;

public sealed class FragmentationTests
{
    [Fact]
    public void An_order_that_a_free_block_of_it_or_above_can_serve_has_index_minus_one()
    {
        long[] free = [0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0];

        Assert.Equal(-1, Fragmentation.Index(free, 0));
        Assert.Equal(-1, Fragmentation.Index(free, 3));
        Assert.NotEqual(-1, Fragmentation.Index(free, 4));
    }

    [Fact]
    public void Eight_single_pages_fail_an_order_3_request_by_fragmentation()
    {
        long[] free = [8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

        // 1000 - (1000 + 8 * 1000 / 8) / 8 = 750
        Assert.Equal(0.750, Fragmentation.Index(free, 3));
        // 1000 - (1000 + 8 * 1000 / 1024) / 8 = 1000 - 1007 / 8 = 875
        Assert.Equal(0.875, Fragmentation.Index(free, 10));
    }

    [Fact]
    public void More_scattered_blocks_mean_a_higher_index()
    {
        long[] few = [2, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        long[] many = [64, 32, 16, 0, 0, 0, 0, 0, 0, 0, 0];

        Assert.True(Fragmentation.Index(many, 5) > Fragmentation.Index(few, 5));
    }

    [Fact]
    public void Nothing_free_or_too_little_free_is_lack_of_memory_index_zero()
    {
        Assert.Equal(0, Fragmentation.Index(new long[11], 4));
        // One free page against an order-1 request: the kernel's arithmetic gives -500; the failure is lack of memory.
        Assert.Equal(0, Fragmentation.Index([1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], 1));
    }

    [Fact]
    public void An_order_outside_the_list_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Fragmentation.Index(new long[11], 11));
        Assert.Throws<ArgumentOutOfRangeException>(() => Fragmentation.Index(new long[11], -1));
    }
}
