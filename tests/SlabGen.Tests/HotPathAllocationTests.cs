namespace SlabGen.Tests;

using K = SlabGen.Kmem;

/// <summary>The fast paths allocate no managed memory once warm: zero GC pressure is the point of the library.</summary>
public sealed unsafe class HotPathAllocationTests
{
    [Fact]
    public void Warm_alloc_and_free_of_pages_objects_kmalloc_and_generated_caches_allocate_no_managed_memory()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("hot-path", 64, 0, pages: pages);
        using KmemCache<long> typed = KmemCache<long>.Create("hot-path-typed", pages: pages);
        void RoundTrip()
        {
            pages.FreePages(pages.AllocPages(0), 0);
            pages.FreePages(pages.AllocPages(3, GfpFlags.Atomic), 3);
            cache.Free(cache.Alloc());
            typed.Free(typed.Alloc(GfpFlags.Atomic));
            K.Kfree(K.Kmalloc(64));
            K.Kfree(K.Kzalloc(200));
            K.Kfree(K.Kmalloc(20_000));
            Typed.Payload.Free(Typed.Payload.New(7));
            Typed.Entity.Free(Typed.Entity.Alloc(GfpFlags.Atomic));
        }

        RoundTrip(); // warm: per-thread lists, array caches and slabs exist now

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            RoundTrip();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
