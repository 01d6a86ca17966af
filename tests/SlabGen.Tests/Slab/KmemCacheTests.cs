using System.Runtime.InteropServices;

namespace SlabGen.Tests.Slab;

public sealed unsafe class KmemCacheTests : IDisposable
{
    private const ulong Constructed = 0xC0FFEE_C0FFEE;

    private static int s_constructorCalls;

    private readonly PageAllocator _pages = new(new PageAllocatorOptions { PerThreadPages = 0 });

    public void Dispose() => _pages.Dispose();

    private static void Construct(void* obj)
    {
        Interlocked.Increment(ref s_constructorCalls);
        *(ulong*)obj = Constructed;
    }

    private KmemCache NewCache(nuint size, nuint align = 0, SlabFlags flags = SlabFlags.None, delegate*<void*, void> ctor = null, string name = "test") =>
        KmemCache.Create(name, size, align, flags, ctor, _pages);

    [Fact]
    public void Sixty_four_byte_objects_fill_order_0_slabs_with_no_leftover_and_under_3_percent_overhead()
    {
        using KmemCache cache = NewCache(64);
        var objects = Enumerable.Range(0, 10_000).Select(_ => (nint)cache.Alloc()).ToList();

        Assert.Equal(0, cache.SlabOrder);
        Assert.Equal(64, cache.ObjectsPerSlab);
        double slabBytes = cache.SlabCount * PageAllocator.PageSize;
        double frameBytes = cache.SlabCount * sizeof(PageFrame);
        double overhead = (slabBytes + frameBytes - (cache.TotalObjects * 64)) / slabBytes;
        Assert.True(overhead < 0.03, $"metadata and leftover are {overhead:P2} of the slab pages");
        objects.ForEach(o => cache.Free((void*)o));
    }

    [Theory]
    [InlineData(8)]
    [InlineData(64)]
    [InlineData(200)]
    [InlineData(1000)]
    [InlineData(3000)]
    [InlineData(9000)]
    [InlineData(30_000)]
    public void Slab_order_follows_calculate_order_small_leftover_within_order_4(int size)
    {
        using KmemCache cache = NewCache((nuint)size);
        nuint slab = (nuint)PageAllocator.PageSize << cache.SlabOrder;
        nuint leftover = slab - ((nuint)cache.ObjectsPerSlab * cache.SlotSize);

        Assert.InRange(cache.SlabOrder, 0, 4);
        Assert.True(cache.ObjectsPerSlab >= 1);
        Assert.True(leftover <= slab / 2, $"leftover {leftover} of {slab}");
        Assert.Equal(SlabLayout.CalculateOrder(cache.SlotSize), cache.SlabOrder);
        if (size <= 1000)
        {
            Assert.True(leftover <= slab / 32, $"small objects waste at most 1/32: {leftover} of {slab}");
        }
    }

    [Fact]
    public void Objects_larger_than_order_4_slabs_get_larger_slabs_and_too_big_ones_are_refused()
    {
        using KmemCache big = NewCache(100_000);
        Assert.Equal(5, big.SlabOrder);
        Assert.Equal(1, big.ObjectsPerSlab);
        void* obj = big.Alloc();
        Assert.True(obj != null);
        big.Free(obj);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => NewCache(5 << 20));
        Assert.Contains("too big for a slab", e.Message);
    }

    [Fact]
    public void The_constructor_runs_when_a_slab_is_populated_not_on_every_allocation()
    {
        using KmemCache cache = NewCache(48, ctor: &Construct);
        int before = Volatile.Read(ref s_constructorCalls);
        void* obj = cache.Alloc();
        Assert.Equal(cache.ObjectsPerSlab, Volatile.Read(ref s_constructorCalls) - before);
        Assert.Equal(Constructed, *(ulong*)obj);

        cache.Free(obj);
        for (int i = 0; i < 100; i++)
        {
            void* again = cache.Alloc();
            Assert.Equal(Constructed, *(ulong*)again);
            cache.Free(again);
        }

        Assert.Equal(cache.ObjectsPerSlab, Volatile.Read(ref s_constructorCalls) - before);
    }

    [Theory]
    [InlineData(24, 0, SlabFlags.None, 8)]
    [InlineData(24, 0, SlabFlags.HwCacheAlign, 64)]
    [InlineData(100, 128, SlabFlags.None, 128)]
    [InlineData(40, 4096, SlabFlags.None, 4096)]
    public void Every_object_is_aligned(int size, int align, SlabFlags flags, int expected)
    {
        using KmemCache cache = NewCache((nuint)size, (nuint)align, flags);
        Assert.Equal((nuint)expected, cache.Align);
        var objects = Enumerable.Range(0, 3 * cache.ObjectsPerSlab).Select(_ => (nint)cache.Alloc()).ToList();
        Assert.All(objects, o => Assert.Equal(0, o % expected));
        objects.ForEach(o => cache.Free((void*)o));
    }

    [Fact]
    public void Successive_slabs_cycle_through_cache_line_colours()
    {
        using KmemCache cache = NewCache(200);
        Assert.True(cache.Colours >= 2, $"a 200-byte cache leaves room for colours, got {cache.Colours}");
        var objects = Enumerable.Range(0, (cache.Colours + 1) * cache.ObjectsPerSlab).Select(_ => (nint)cache.Alloc()).ToList();

        var colours = objects
            .Select(o => SlabPage.Of(PageAllocator.FrameOf((void*)o))->Colour)
            .Distinct().Order().ToList();
        Assert.Equal(Enumerable.Range(0, cache.Colours).Select(c => c * 64), colours);
        objects.ForEach(o => cache.Free((void*)o));
    }

    [Fact]
    public void Slab_metadata_lives_in_the_head_page_frame()
    {
        using KmemCache cache = NewCache(3000);
        Assert.True(cache.SlabOrder > 0);
        var objects = Enumerable.Range(0, cache.ObjectsPerSlab).Select(_ => (nint)cache.Alloc()).ToList();
        byte* obj = (byte*)objects.Max();
        Assert.Equal(PageFlags.Tail, _pages.PageOf(obj).Flags);

        ref readonly PageFrame head = ref _pages.HeadPageOf(obj);
        Assert.Equal((PageFlags.Head, SlabPage.OwnerTag), (head.Flags, head.OwnerTag));
        Assert.Same(cache, KmemCache.CacheOf(obj));
        Assert.Equal(cache.SlabOrder, head.Order);
        Assert.Equal(cache.ObjectsPerSlab, SlabPage.Of(PageAllocator.HeadFrameOf(obj))->InUse);
        objects.ForEach(o => cache.Free((void*)o));
    }

    [Fact]
    public void Atomic_allocations_never_grow_the_cache_from_the_os()
    {
        using KmemCache cache = NewCache(64);
        Assert.True(cache.Alloc(GfpFlags.Atomic) == null);
        Assert.Equal(0, _pages.ArenaCount);
        void* obj = cache.Alloc(GfpFlags.Kernel);
        Assert.True(obj != null);
        void* atomic = cache.Alloc(GfpFlags.Atomic);
        Assert.True(atomic != null, "Atomic succeeds from slabs already held");
        cache.Free(obj);
        cache.Free(atomic);
    }

    [Fact]
    public void Exhausted_memory_returns_null_and_the_cache_recovers()
    {
        using var small = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20, PerThreadPages = 0 });
        using KmemCache cache = KmemCache.Create("tiny", 64 * 1024, 0, pages: small);
        var objects = new List<nint>();
        void* obj;
        while ((obj = cache.Alloc()) != null)
        {
            objects.Add((nint)obj);
        }

        Assert.Equal(4 * 1024 * 1024 / (64 * 1024), objects.Count);
        cache.Free((void*)objects[^1]);
        Assert.True(cache.Alloc() != null, "the freed object is handed out again");
        objects.ForEach(o => cache.Free((void*)o));
    }

    [Fact]
    public void Zero_clears_dirty_objects_and_is_refused_with_a_constructor()
    {
        using KmemCache cache = NewCache(64);
        byte* obj = (byte*)cache.Alloc();
        NativeMemory.Fill(obj, 64, 0xEE);
        cache.Free(obj);
        byte* zeroed = (byte*)cache.Alloc(GfpFlags.Kernel | GfpFlags.Zero);
        Assert.True(zeroed == obj);
        Assert.True(new ReadOnlySpan<byte>(zeroed, 64).IndexOfAnyExcept((byte)0) < 0);
        cache.Free(zeroed);

        using KmemCache constructed = NewCache(64, ctor: &Construct, name: "constructed");
        Assert.Throws<ArgumentException>(() => constructed.Alloc(GfpFlags.Kernel | GfpFlags.Zero));
        Assert.Throws<ArgumentException>(() => cache.Alloc(GfpFlags.Kernel | GfpFlags.Atomic));
        AssertUsable(cache);
    }

    [Fact]
    public void Magazines_filled_by_one_thread_refill_another_through_the_depot()
    {
        KmemCache cache = NewCache(64, name: "depot-refill");
        nint[] objects = [];
        var allocator = new Thread(() => objects = Enumerable.Range(0, 1_000).Select(_ => (nint)cache.Alloc()).ToArray());
        allocator.Start();
        allocator.Join();
        var freer = new Thread(() => Array.ForEach(objects, o => cache.Free((void*)o)));
        freer.Start();
        freer.Join();
        SlabInfoEntry afterFrees = SlabInfo.Snapshot().Single(e => e.Name == cache.Name);

        // Both threads have exited and their array caches were reaped. The freer's stack held two magazines; each
        // time it filled, its upper magazine went whole to the depot, and this thread's first refill takes one.
        int magazine = cache.BatchCount;
        Assert.Equal((objects.Length - magazine - 1) / magazine * magazine, afterFrees.SharedAvailable);
        Assert.Equal(0, afterFrees.LiveObjects);
        var again = new HashSet<nint>(Enumerable.Range(0, magazine).Select(_ => (nint)cache.Alloc()));
        Assert.Subset(objects.ToHashSet(), again);
        Assert.Equal(afterFrees.SharedAvailable - magazine, SlabInfo.Snapshot().Single(e => e.Name == cache.Name).SharedAvailable);

        foreach (nint obj in again)
        {
            cache.Free((void*)obj);
        }

        cache.Shrink();
        SlabInfoEntry shrunk = SlabInfo.Snapshot().Single(e => e.Name == cache.Name);
        Assert.Equal((0L, 0L, 0L), (shrunk.SharedAvailable, shrunk.ActiveObjects, shrunk.Slabs));
        cache.Destroy();
    }

    [Fact]
    public void Destroy_counts_objects_in_the_depot_as_free()
    {
        KmemCache cache = NewCache(64, name: "depot-destroy");
        var objects = Enumerable.Range(0, 500).Select(_ => (nint)cache.Alloc()).ToArray();
        Array.ForEach(objects, o => cache.Free((void*)o));
        Assert.True(SlabInfo.Snapshot().Single(e => e.Name == cache.Name).SharedAvailable > 0);

        cache.Destroy();

        Assert.DoesNotContain(SlabInfo.Snapshot(), e => e.Name == cache.Name);
    }

    [Fact]
    public void Shrink_returns_empty_slabs_to_the_page_allocator()
    {
        using KmemCache cache = NewCache(64, name: "shrink-test");
        var objects = Enumerable.Range(0, 20 * 64).Select(_ => (nint)cache.Alloc()).ToList();
        Assert.Equal(20, cache.SlabCount);
        objects.ForEach(o => cache.Free((void*)o));

        // Two empty slabs in reserve, plus the slabs of the objects the thread's array cache and the depot hold.
        SlabInfoEntry row = SlabInfo.Snapshot().Single(e => e.Name == cache.Name);
        long cached = cache.Limit + (row.SharedFactor * (long)cache.BatchCount);
        long expected = 2 + ((cached + cache.ObjectsPerSlab - 1) / cache.ObjectsPerSlab) + 1;
        Assert.True(row.SharedAvailable > 0, "full magazines should wait in the depot");
        Assert.True(cache.SlabCount <= expected, $"at most {expected} slabs stay, got {cache.SlabCount}");
        long released = cache.Shrink();
        Assert.True(released > 0);
        Assert.Equal(0, cache.SlabCount);
        Assert.Equal(0, cache.ActiveObjects);
        Assert.Equal((long)_pages.ArenaCount * 1024, _pages.BuddyInfo().FreePages);
        AssertUsable(cache);
    }

    [Fact]
    public void Destroy_with_live_objects_refuses_says_how_many_and_leaves_the_cache_usable()
    {
        var cache = NewCache(32, name: "leaky");
        var live = Enumerable.Range(0, 3).Select(_ => (nint)cache.Alloc()).ToList();

        var e = Assert.Throws<InvalidOperationException>(cache.Destroy);
        Assert.Contains("leaky", e.Message);
        Assert.Contains("3 objects remaining", e.Message);
        AssertUsable(cache);

        live.ForEach(o => cache.Free((void*)o));
        cache.Destroy();
        Assert.DoesNotContain(SlabInfo.Snapshot(), entry => ReferenceEquals(entry.Name, cache.Name));
        Assert.Throws<ObjectDisposedException>(() => cache.Alloc());
        Assert.Equal((long)_pages.ArenaCount * 1024, _pages.BuddyInfo().FreePages);
    }

    [Fact]
    public void Destroy_under_StoreUser_names_the_allocation_sites_of_leaked_objects()
    {
        var cache = NewCache(32, flags: SlabFlags.StoreUser, name: "tracked");
        var leaked = new List<nint>();
        for (int i = 0; i < 2; i++) leaked.Add((nint)cache.Alloc()); // one site, two objects
        void* other = cache.Alloc();

        var e = Assert.Throws<InvalidOperationException>(cache.Destroy);
        Assert.Contains("3 objects remaining", e.Message);
        Assert.Contains("1 allocated at KmemCacheTests.cs:", e.Message);
        Assert.Contains("2 allocated at KmemCacheTests.cs:", e.Message);
        Assert.Contains(nameof(Destroy_under_StoreUser_names_the_allocation_sites_of_leaked_objects), e.Message);

        leaked.ForEach(o => cache.Free((void*)o));
        cache.Free(other);
        cache.Destroy();
    }

    // ---- debug modes and bad input: a clear exception, the cache consistent and usable afterwards ----

    [Fact]
    public void Poison_reports_a_write_after_free_on_the_next_allocation()
    {
        using KmemCache cache = NewCache(48, flags: SlabFlags.Poison, name: "poisoned");
        byte* obj = (byte*)cache.Alloc();
        cache.Free(obj);
        Assert.Equal(0x6b, obj[0]);
        Assert.Equal(0xa5, obj[47]);

        obj[10] = 0x42; // use after free
        var e = Assert.Throws<InvalidOperationException>(() => cache.Alloc());
        Assert.Contains("use after free", e.Message);
        Assert.Contains("byte 10", e.Message);
        Assert.Contains("0x42", e.Message);

        Assert.Equal(0, cache.ActiveObjects);
        AssertUsable(cache);
    }

    [Fact]
    public void Poison_with_a_constructor_constructs_on_every_allocation()
    {
        using KmemCache cache = NewCache(48, flags: SlabFlags.Poison, ctor: &Construct, name: "poisoned-ctor");
        for (int i = 0; i < 3; i++)
        {
            void* obj = cache.Alloc();
            Assert.Equal(Constructed, *(ulong*)obj);
            cache.Free(obj);
            Assert.Equal(0x6b6b6b6b6b6b6b6bUL, *(ulong*)obj);
        }
    }

    [Fact]
    public void RedZone_reports_a_write_past_the_end_on_free()
    {
        using KmemCache cache = NewCache(40, flags: SlabFlags.RedZone, name: "zoned");
        byte* obj = (byte*)cache.Alloc();
        obj[40] = 0; // one byte past the end

        var e = Assert.Throws<InvalidOperationException>(() => cache.Free(obj));
        Assert.Contains("red zone overwritten", e.Message);
        Assert.Contains("byte 0 past the end was 0x00, expected 0xcc (a buffer overflow of the 40-byte object)", e.Message);

        Assert.Equal(0, cache.ActiveObjects);
        AssertUsable(cache);
    }

    [Fact]
    public void ConsistencyChecks_catch_a_double_free()
    {
        using KmemCache cache = NewCache(32, flags: SlabFlags.ConsistencyChecks, name: "checked");
        void* keep = cache.Alloc();
        void* obj = cache.Alloc();
        cache.Free(obj);

        var e = Assert.Throws<ArgumentException>(() => cache.Free(obj));
        Assert.Contains("double free", e.Message);
        Assert.Equal(1, cache.ActiveObjects);

        cache.Free(keep);
        AssertUsable(cache);
    }

    [Fact]
    public void ConsistencyChecks_catch_an_interior_pointer()
    {
        using KmemCache cache = NewCache(32, flags: SlabFlags.ConsistencyChecks, name: "checked");
        byte* obj = (byte*)cache.Alloc();

        var e = Assert.Throws<ArgumentException>(() => cache.Free(obj + 8));
        Assert.Contains("interior pointer", e.Message);
        Assert.Contains("8 bytes into an object", e.Message);

        cache.Free(obj);
        AssertUsable(cache);
    }

    [Theory]
    [InlineData(SlabFlags.None)]
    [InlineData(SlabFlags.ConsistencyChecks)]
    public void A_pointer_from_another_cache_is_refused(SlabFlags flags)
    {
        using KmemCache cache = NewCache(32, flags: flags, name: "mine");
        using KmemCache other = NewCache(32, name: "theirs");
        AssertUsable(cache); // the fast path is warm: the check must hold there too
        void* theirs = other.Alloc();

        var e = Assert.Throws<ArgumentException>(() => cache.Free(theirs));
        Assert.Contains("wrong cache", e.Message);
        Assert.Contains("'theirs'", e.Message);

        other.Free(theirs);
        AssertUsable(cache);
        AssertUsable(other);
    }

    [Theory]
    [InlineData(SlabFlags.None)]
    [InlineData(SlabFlags.ConsistencyChecks)]
    public void A_foreign_pointer_is_refused(SlabFlags flags)
    {
        using KmemCache cache = NewCache(32, flags: flags);
        AssertUsable(cache);
        void* native = NativeMemory.Alloc(32);
        void* block = _pages.AllocPages(0);
        try
        {
            Assert.Contains("not in any SlabGen arena", Assert.Throws<ArgumentException>(() => cache.Free(native)).Message);
            Assert.Contains("page-allocator block", Assert.Throws<ArgumentException>(() => cache.Free(block)).Message);
        }
        finally
        {
            NativeMemory.Free(native);
            _pages.FreePages(block, 0);
        }

        AssertUsable(cache);
    }

    [Fact]
    public void An_object_on_a_tail_page_of_another_caches_slab_is_refused()
    {
        using KmemCache cache = NewCache(3000, name: "mine");
        using KmemCache other = NewCache(3000, name: "theirs");
        Assert.True(other.SlabOrder > 0);
        AssertUsable(cache);
        var theirs = Enumerable.Range(0, other.ObjectsPerSlab).Select(_ => (nint)other.Alloc()).ToList();
        nint onTail = theirs.First(o => _pages.HeadPageOf((void*)o).Address != (void*)(o & ~(nint)(PageAllocator.PageSize - 1)));

        var e = Assert.Throws<ArgumentException>(() => cache.Free((void*)onTail));
        Assert.Contains("wrong cache", e.Message);
        Assert.Contains("'theirs'", e.Message);

        theirs.ForEach(o => other.Free((void*)o));
        AssertUsable(cache);
        AssertUsable(other);
    }

    [Fact]
    public void A_released_slabs_pages_no_longer_pass_for_the_caches_own()
    {
        using KmemCache cache = NewCache(3000);
        Assert.True(cache.SlabOrder > 0);
        AssertUsable(cache);
        var objects = Enumerable.Range(0, 3 * cache.ObjectsPerSlab).Select(_ => (nint)cache.Alloc()).ToList();
        var slabs = objects.Select(o => (nint)_pages.HeadPageOf((void*)o).Address).ToHashSet();
        objects.ForEach(o => cache.Free((void*)o));
        cache.Shrink();
        Assert.Equal(0, cache.SlabCount);

        // Take blocks of the slab order until one is a former slab: its tail pages must have lost the cache's mark.
        var blocks = new List<nint>();
        nint reused = 0;
        while (reused == 0)
        {
            var block = (nint)_pages.AllocPages(cache.SlabOrder);
            Assert.True(block != 0, "a released slab was never handed out again");
            blocks.Add(block);
            reused = slabs.Contains(block) ? block : 0;
        }

        var e = Assert.Throws<ArgumentException>(() => cache.Free((void*)(reused + PageAllocator.PageSize)));
        Assert.Contains("page-allocator block", e.Message);

        blocks.ForEach(b => _pages.FreePages((void*)b, cache.SlabOrder));
        AssertUsable(cache);
    }

    [Fact]
    public void Free_of_null_does_nothing()
    {
        using KmemCache cache = NewCache(32);
        cache.Free(null);
        Assert.Equal(0, cache.ActiveObjects);
    }

    [Theory]
    [InlineData(0, 8)]
    [InlineData(64, 3)]
    [InlineData(64, 8192)]
    public void Bad_arguments_to_Create_are_refused(int size, int align)
    {
        Assert.ThrowsAny<ArgumentException>(() => NewCache((nuint)size, (nuint)align));
        Assert.Throws<ArgumentException>(() => KmemCache.Create("", 8, 0));
    }

    [Fact]
    public void SlabInfo_formats_like_proc_slabinfo_2_1()
    {
        using KmemCache cache = NewCache(64, name: "slabinfo-test");
        var objects = Enumerable.Range(0, 100).Select(_ => (nint)cache.Alloc()).ToList();

        string[] lines = SlabInfo.Format().Split('\n');
        Assert.Equal("slabinfo - version: 2.1", lines[0]);
        Assert.Equal("# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : tunables <limit> <batchcount> <sharedfactor> : slabdata <active_slabs> <num_slabs> <sharedavail>", lines[1]);
        string row = Assert.Single(lines, l => l.StartsWith("slabinfo-test ", StringComparison.Ordinal));
        long active = cache.ActiveObjects;
        Assert.InRange(active, 100, 100 + cache.Limit);
        Assert.Equal(
            $"slabinfo-test     {active,6}    128     64   64    1 : tunables  240  120   16 : slabdata      2      2      0",
            row);

        objects.ForEach(o => cache.Free((void*)o));
    }

    /// <summary>Allocates and frees two slabs' worth, checking distinct, writable objects.</summary>
    internal static void AssertUsable(KmemCache cache)
    {
        int count = 2 * cache.ObjectsPerSlab;
        var objects = new List<nint>(count);
        for (int i = 0; i < count; i++)
        {
            byte* obj = (byte*)cache.Alloc();
            Assert.True(obj != null);
            obj[0] = (byte)i;
            objects.Add((nint)obj);
        }

        Assert.Equal(count, objects.Distinct().Count());
        for (int i = 0; i < count; i++)
        {
            Assert.Equal((byte)i, ((byte*)objects[i])[0]);
            cache.Free((void*)objects[i]);
        }
    }
}
