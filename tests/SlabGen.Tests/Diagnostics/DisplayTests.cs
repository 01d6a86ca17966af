using System.Diagnostics;
using System.Reflection;

namespace SlabGen.Tests.Diagnostics;

/// <summary>What a cache, an allocator or a pool says when printed or shown in a debugger, and the double free after Reset.</summary>
public sealed unsafe class DisplayTests
{
    private struct Shard
    {
        public long A;
        public long B;
    }

    [Fact]
    public void A_cache_prints_its_name_geometry_and_live_objects_and_then_that_it_was_destroyed()
    {
        KmemCache<Shard> cache = KmemCache<Shard>.Create("display-shards");
        Assert.Equal("kmem_cache display-shards (16 bytes, 256 per order-0 slab): 0 live in 0 slabs", cache.ToString());
        Shard* a = cache.Alloc();
        Shard* b = cache.Alloc();
        Assert.Equal("kmem_cache display-shards (16 bytes, 256 per order-0 slab): 2 live in 1 slab", cache.ToString());
        Assert.Equal(cache.Cache.ToString(), cache.ToString());
        cache.Free(a);
        cache.Free(b);
        cache.Dispose();
        Assert.EndsWith(": destroyed", cache.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_page_allocator_prints_its_id_kind_arenas_and_cap_and_then_that_it_was_disposed()
    {
        var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 16 << 20 });
        Assert.Equal($"PageAllocator 'pages' #{pages.Id}: 0 arena(s), 0 MiB from the OS, cap 16 MiB", pages.ToString());
        void* block = pages.AllocPages(0);
        Assert.Equal($"PageAllocator 'pages' #{pages.Id}: 1 arena(s), 4 MiB from the OS, cap 16 MiB", pages.ToString());
        pages.FreePages(block, 0);
        pages.Dispose();
        Assert.Equal("PageAllocator (disposed)", pages.ToString());
        Assert.StartsWith($"PageAllocator 'shared' #{PageAllocator.Shared.Id} (Shared): ", PageAllocator.Shared.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(typeof(KmemCache))]
    [InlineData(typeof(KmemCache<>))]
    [InlineData(typeof(PageAllocator))]
    [InlineData(typeof(KmallocAllocator))]
    [InlineData(typeof(SlabMemoryPool))]
    public void Debuggers_show_what_ToString_says(Type type)
    {
        Assert.Equal("{ToString(),nq}", type.GetCustomAttribute<DebuggerDisplayAttribute>()?.Value);
        Assert.NotNull(type.GetMethod(nameof(ToString), BindingFlags.Public | BindingFlags.Instance | BindingFlags.DeclaredOnly, Type.EmptyTypes));
    }

    [Fact]
    public void A_double_free_after_Reset_says_that_Reset_freed_the_object_and_one_before_any_Reset_does_not()
    {
        using KmemCache<Shard> cache = KmemCache<Shard>.Create("display-reset");
        Shard* early = cache.Alloc();
        cache.Free(early);
        string before = Assert.Throws<ArgumentException>(() => cache.Free(early)).Message;
        Assert.Contains("double free", before, StringComparison.Ordinal);
        Assert.DoesNotContain("Reset", before, StringComparison.Ordinal);

        Shard* kept = cache.Alloc();
        Assert.Equal(1, cache.Reset());
        string after = Assert.Throws<ArgumentException>(() => cache.Free(kept)).Message;
        Assert.Contains("double free", after, StringComparison.Ordinal);
        Assert.Contains("the cache was Reset 1 time, and Reset frees every object: a handle or pointer kept across Reset() is stale", after, StringComparison.Ordinal);

        Shard* again = cache.Alloc(); // the cache still works
        again->A = 7;
        again->B = 8;
        Assert.Equal(15, again->A + again->B);
        cache.Free(again);
        Assert.Equal(0, cache.LiveObjects);
    }
}
