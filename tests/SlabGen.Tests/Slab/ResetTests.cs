// Reset frees every live object at once: counts, constructed state, slabs given back, the debug checks still made,
// refusals that leave the cache as it was.
using SlabGen.Tests.Misuse;

namespace SlabGen.Tests.Slab;

public sealed unsafe class ResetTests
{
    [Fact]
    public void Reset_frees_every_live_object_and_the_cache_gives_its_slabs_back_and_stays_usable()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("reset-plain", 64, 0, pages: pages);
        var objects = new nint[10_000];
        cache.AllocBulk(objects);
        cache.FreeBulk(objects.AsSpan(0, 1234));
        long slabsBefore = cache.SlabCount;

        Assert.Equal(objects.Length - 1234, cache.Reset());

        Assert.Equal(0, cache.LiveObjects);
        Assert.Null(cache.VerifySlabLists());
        Assert.True(cache.SlabCount < slabsBefore / 4, $"{cache.SlabCount} of {slabsBefore} slabs kept");
        Assert.Equal(0, cache.Reset());
        Assert.Throws<ArgumentException>(() => cache.Free((void*)objects[5000])); // freed by Reset: a double free now
        Usable.Check(cache, 3000);
    }

    [Fact]
    public void After_reset_objects_are_handed_out_in_their_constructed_state_again()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("reset-ctor", 32, 0, SlabFlags.None, &Construct, pages);
        var objects = new nint[500];
        cache.AllocBulk(objects);
        foreach (nint obj in objects)
        {
            *(long*)obj = -1; // the caller's state, not the constructed one
        }

        Assert.Equal(500, cache.Reset());

        cache.AllocBulk(objects);
        Assert.All(objects, static o => Assert.Equal(0x600d, *(long*)o));
        cache.FreeBulk(objects);
    }

    [Fact]
    public void A_red_zone_overwritten_before_the_reset_is_reported_after_every_object_was_freed()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("reset-redzone", 40, 8, SlabFlags.RedZone, pages);
        var objects = new nint[300];
        cache.AllocBulk(objects);
        ((byte*)objects[17])[40] = 0; // one byte past the object

        var error = Assert.Throws<InvalidOperationException>(() => cache.Reset());

        Assert.Contains("red zone overwritten", error.Message, StringComparison.Ordinal);
        Assert.Contains("reset-redzone", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, cache.LiveObjects);
        Usable.Check(cache);
    }

    [Fact]
    public void A_kmalloc_cache_and_a_destroyed_cache_refuse_a_reset()
    {
        using var pages = new PageAllocator();
        using var kmalloc = new KmallocAllocator(pages, "reset");
        void* block = kmalloc.Kmalloc(64);
        KmemCache sizeCache = KmemCache.CacheOf(block)!;

        var refused = Assert.Throws<InvalidOperationException>(() => sizeCache.Reset());
        Assert.Contains("kmalloc size cache", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, sizeCache.LiveObjects);
        SlabGen.Kmem.Kfree(block);

        KmemCache destroyed = KmemCache.Create("reset-destroyed", 64, 0, pages: pages);
        destroyed.Destroy();
        Assert.Throws<ObjectDisposedException>(() => destroyed.Reset());
    }

    private static void Construct(void* obj) => *(long*)obj = 0x600d;
}
