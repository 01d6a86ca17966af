// kmem_cache_alloc_bulk / free_bulk: all or nothing, the objects distinct and usable, freed on another thread with
// their contents intact, and a refused entry leaving the cache consistent.
namespace SlabGen.Tests.Slab;

public sealed unsafe class BulkTests
{
    [Fact]
    public void A_bulk_allocation_fills_the_span_with_distinct_aligned_objects_freed_in_bulk_on_another_thread()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("bulk", 96, 32, pages: pages);
        var objects = new nint[5000];

        Assert.Equal(objects.Length, cache.AllocBulk(objects));

        Assert.Equal(objects.Length, objects.Distinct().Count());
        Assert.All(objects, static o => Assert.Equal(0, o % 32));
        Assert.Equal(objects.Length, cache.LiveObjects);
        foreach (nint o in objects)
        {
            *(long*)o = o * 31;
        }

        long corrupted = 0;
        var freer = new Thread(() =>
        {
            corrupted = objects.Count(static o => *(long*)o != o * 31);
            cache.FreeBulk(objects);
        });
        freer.Start();
        Assert.True(freer.Join(TimeSpan.FromSeconds(30)));

        Assert.Equal(0, corrupted);
        Assert.Equal(0, cache.LiveObjects);
        Assert.Null(cache.VerifySlabLists());
    }

    [Fact]
    public void Under_a_cap_a_bulk_allocation_that_cannot_be_met_takes_nothing_and_clears_the_span()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        using KmemCache<Block> cache = KmemCache<Block>.Create("bulk-capped", pages: pages);
        var tooMany = new nint[(4 << 20) / sizeof(Block) + 1];

        Assert.Equal(0, cache.AllocBulk(tooMany));

        Assert.All(tooMany, static o => Assert.Equal(0, o));
        Assert.Equal(0, cache.LiveObjects);
        var some = new nint[1000];
        Assert.Equal(some.Length, cache.AllocBulk(some, GfpFlags.Atomic));
        cache.FreeBulk(some);
        Assert.Equal(0, cache.LiveObjects);
    }

    [Fact]
    public void A_refused_entry_throws_after_freeing_the_ones_before_it_and_the_cache_stays_consistent()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("bulk-misuse", 64, 0, pages: pages);
        var objects = new nint[4];
        Assert.Equal(4, cache.AllocBulk(objects));
        long outside = 0;
        nint[] withForeign = [objects[0], objects[1], (nint)(&outside), objects[2], objects[3]];

        var error = Assert.Throws<ArgumentException>(() => cache.FreeBulk(withForeign));

        Assert.Contains("foreign pointer", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, cache.LiveObjects);                 // the two before it were freed, the two after it not
        cache.FreeBulk(objects.AsSpan(2));
        Assert.Equal(0, cache.LiveObjects);
        Assert.Throws<ArgumentException>(() => cache.AllocBulk(objects, GfpFlags.Kernel | GfpFlags.Atomic));
        Assert.Equal(0, cache.LiveObjects);
        Assert.Null(cache.VerifySlabLists());
    }

    public struct Block
    {
        public long A, B, C, D;
    }
}
