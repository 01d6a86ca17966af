// Misuse that used to corrupt, lose memory or go unreported: each case refused with a message that names it, then the
// allocator used again and checked.
namespace SlabGen.Tests.Misuse;

public sealed unsafe class TrustTests
{
    [Fact]
    public void Krealloc_and_Ksize_of_a_freed_object_are_refused_and_the_object_is_handed_out_once()
    {
        void* p = SlabGen.Kmem.Kmalloc(201);
        SlabGen.Kmem.Kfree(p);

        var realloc = Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Krealloc(p, 235));
        Assert.Contains($"ksize(0x{(nuint)p:x}): already freed", realloc.Message);
        void* small = SlabGen.Kmem.Kmalloc(112);
        SlabGen.Kmem.Kfree(small);
        Assert.Contains("already freed", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Ksize(small)).Message);
        byte* live = (byte*)SlabGen.Kmem.Kmalloc(112);
        Assert.Contains("interior pointer: it is 16 bytes into an object of cache 'kmalloc-128'",
            Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Ksize(live + 16)).Message);
        Assert.Equal(128u, SlabGen.Kmem.Ksize(live));
        SlabGen.Kmem.Kfree(live);

        // Nothing changed: the freed object comes back once.
        void* a = SlabGen.Kmem.Kmalloc(201);
        void* b = SlabGen.Kmem.Kmalloc(201);
        Assert.True(a != b);
        void* grown = SlabGen.Kmem.Krealloc(a, 235);
        Assert.True(grown == a, "a live object grows in place within its class");
        SlabGen.Kmem.Kfree(grown);
        SlabGen.Kmem.Kfree(b);
        Usable.Check(KmallocCaches.For(201));
    }

    [Fact]
    public void Ksize_of_a_freed_object_is_refused_in_a_debug_cache_too()
    {
        ChildProcess.Run(KsizeOfAFreedDebugObject, environment: ("SLABGEN_SLAB_DEBUG", "FZ,kmalloc-256"));
    }

    private static void KsizeOfAFreedDebugObject()
    {
        void* p = SlabGen.Kmem.Kmalloc(200);
        Assert.Equal(200u, SlabGen.Kmem.Ksize(p)); // the size asked for: the rest is red zone
        SlabGen.Kmem.Kfree(p);
        Assert.Contains("already freed", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Ksize(p)).Message);
        Usable.Check(KmallocCaches.For(200));
    }

    [Fact]
    public void A_page_reserve_beyond_the_cap_or_the_machine_is_refused_before_anything_is_taken()
    {
        using var capped = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8 << 20 });
        Assert.Equal(1 << 20, capped.Reserve(1 << 20));
        foreach (long bytes in (long[])[long.MaxValue, long.MaxValue - 100, (8 << 20) + 1])
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => capped.Reserve(bytes));
            Assert.Contains($"cannot reserve {bytes:N0} bytes: more than it may ever hold (its MaxBytes cap of 8,388,608 bytes). The reserve is unchanged.", e.Message);
            Assert.Equal(1 << 20, capped.ReservedBytes);
        }

        Assert.Equal(8 << 20, capped.Reserve(8 << 20));
        Assert.Equal(0, capped.Reserve(0));
        Usable.Check(capped);

        using var uncapped = new PageAllocator();
        Assert.Contains("the memory available to the process", Assert.Throws<ArgumentOutOfRangeException>(() => uncapped.Reserve(long.MaxValue)).Message);
        Assert.Equal(0, uncapped.ArenaCount);
        Assert.Equal(0, uncapped.ReservedBytes);
        Usable.Check(uncapped);
    }

    [Fact]
    public void A_cache_reserve_beyond_what_the_pages_may_hold_is_refused_and_the_old_reserve_kept()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8 << 20 });
        using KmemCache cache = KmemCache.Create("trust-reserve", 64, 0, pages: pages);
        long reserved = cache.Reserve(1000);
        foreach (long objects in (long[])[long.MaxValue, long.MaxValue - 63, 1_000_000])
        {
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => cache.Reserve(objects));
            Assert.Contains($"kmem_cache_reserve(trust-reserve): {objects:N0} objects need", e.Message);
            Assert.Contains("more than the page allocator may ever hold (its MaxBytes cap of 8,388,608 bytes)", e.Message);
            Assert.Equal(reserved, cache.ReservedObjects);
        }

        Usable.Check(cache);
        Assert.Equal(reserved, cache.ReservedObjects);

        // Within the cap but not within what is free: refused after trying, the old reserve kept.
        void* held = pages.AllocPages(PageAllocator.MaxOrder);
        Assert.True(held != null);
        long fits = (4L << 20) / PageAllocator.PageSize * cache.ObjectsPerSlab;
        Assert.Throws<SlabOutOfMemoryException>(() => cache.Reserve(fits + 1));
        Assert.Equal(reserved, cache.ReservedObjects);
        pages.FreePages(held, PageAllocator.MaxOrder);
        Usable.Check(cache);
    }

    private static int s_constructorsLeft;

    private static void ConstructUntilExhausted(void* obj)
    {
        if (Interlocked.Decrement(ref s_constructorsLeft) < 0)
        {
            throw new InvalidOperationException("constructor failed");
        }

        *(long*)obj = 42;
    }

    [Fact]
    public void A_constructor_that_throws_during_a_reserve_leaves_the_reserve_as_it_was()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 16 << 20 });
        using KmemCache cache = KmemCache.Create("trust-ctor-reserve", 64, 0, SlabFlags.None, &ConstructUntilExhausted, pages);
        s_constructorsLeft = int.MaxValue;
        long reserved = cache.Reserve(100);
        s_constructorsLeft = 3_000;

        Assert.Equal("constructor failed", Assert.Throws<InvalidOperationException>(() => cache.Reserve(40_000)).Message);
        Assert.Equal(reserved, cache.ReservedObjects);

        s_constructorsLeft = int.MaxValue;
        Usable.Check(cache);
        Assert.Equal(40_000 + (cache.ObjectsPerSlab - (40_000 % cache.ObjectsPerSlab)) % cache.ObjectsPerSlab, cache.Reserve(40_000));
        Assert.Equal(cache.Reserve(40_000), cache.ReservedObjects);
    }

    [Fact]
    public void A_bad_shared_cap_makes_only_PageAllocator_Shared_throw()
    {
        ChildProcess.Run(BadSharedCapLeavesPrivateAllocatorsAlone, environment: (PageAllocator.SharedMaxBytesVariable, "lots"));
    }

    private static void BadSharedCapLeavesPrivateAllocatorsAlone()
    {
        using (var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8 << 20 }))
        {
            using (KmemCache cache = KmemCache.Create("trust-private", 64, 0, pages: pages))
            {
                Usable.Check(cache);
            }

            using (var kmalloc = new KmallocAllocator(pages, "trust"))
            {
                void* p = kmalloc.Kmalloc(100);
                Assert.True(p != null);
                SlabGen.Kmem.Kfree(p);
            }

            Usable.Check(pages);
        }

        var error = Assert.Throws<TypeInitializationException>(() => PageAllocator.Shared);
        Assert.Contains($"{PageAllocator.SharedMaxBytesVariable} is 'lots'", error.InnerException!.Message, StringComparison.Ordinal);
        using var after = new PageAllocator();
        Usable.Check(after);
    }

    [Fact]
    public void A_kmalloc_allocator_disposed_with_a_live_block_is_cleaned_up_by_the_next_Dispose_after_the_block_is_freed()
    {
        var pages = new PageAllocator();
        var kmalloc = new KmallocAllocator(pages, "trust-late");
        void* p = kmalloc.Kmalloc(64);
        kmalloc.Dispose();
        Assert.Contains(SlabInfo.Snapshot(), e => e.Name == "trust-late-kmalloc-64");
        Assert.Throws<ObjectDisposedException>(() => kmalloc.Kmalloc(64));

        SlabGen.Kmem.Kfree(p);
        kmalloc.Dispose();
        Assert.DoesNotContain(SlabInfo.Snapshot(), e => e.Name.StartsWith("trust-late-", StringComparison.Ordinal));
        pages.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pages.AllocPages(0));
    }

    [Fact]
    public void A_pool_owner_disposed_twice_never_touches_the_next_renters_buffer()
    {
        using var pool = new SlabMemoryPool(null, "trust-pool");
        System.Buffers.IMemoryOwner<byte> a = pool.Rent(100);
        a.Dispose();
        System.Buffers.IMemoryOwner<byte> b = pool.Rent(100);
        b.Memory.Span.Fill(0x5a);
        a.Dispose(); // stale: does nothing

        Assert.Equal(1, pool.RentedBuffers);
        Assert.True(b.Memory.Span.IndexOfAnyExcept((byte)0x5a) < 0, "the stale Dispose touched the new renter's buffer");
        using (System.Buffers.MemoryHandle pin = b.Memory.Pin())
        {
            void* next = SlabGen.Kmem.Kmalloc(100);
            Assert.True(next != pin.Pointer, "kmalloc handed out a buffer still rented");
            SlabGen.Kmem.Kfree(next);
        }

        b.Dispose();
        Assert.Equal(0, pool.RentedBuffers);
        Assert.Throws<ObjectDisposedException>(() => a.Memory.Span.Length);
    }

    [Fact]
    public void A_pool_that_reuses_owners_hands_the_same_owner_out_again_and_allocates_nothing()
    {
        using var pool = new SlabMemoryPool(null, "trust-reuse") { ReuseOwners = true };
        System.Buffers.IMemoryOwner<byte> first = pool.Rent();
        first.Dispose();
        System.Buffers.IMemoryOwner<byte> second = pool.Rent();
        Assert.Same(first, second);
        second.Dispose();

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            pool.Rent().Dispose();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void The_sleeping_in_interrupt_context_message_of_a_generated_Alloc_names_the_callers_line()
    {
        TrustSpark.Free(TrustSpark.Alloc()); // the thread's block exists: only the flags decide
        using (InterruptContext.Enter())
        {
            var e = Assert.Throws<InvalidOperationException>(() => TrustSpark.Alloc());
            Assert.Contains("sleeping function called from invalid context at TrustTests.cs:", e.Message);
            Assert.DoesNotContain(".SlabCache.g.cs", e.Message);
            Assert.True(TrustSpark.TryAlloc(out SlabRef<TrustSpark> spark, GfpFlags.Atomic));
            TrustSpark.Free(spark);
        }
    }

    [Fact]
    public void An_allocator_over_memory_another_one_holds_is_refused_before_a_byte_is_written()
    {
        ChildProcess.Run(OverlappingCallerMemory);
    }

    private static void OverlappingCallerMemory()
    {
        const nuint Section = 4 << 20;
        var block = (byte*)System.Runtime.InteropServices.NativeMemory.AlignedAlloc(8 * Section, Section);
        try
        {
            var a = new PageAllocator(block, 4 * Section);
            var held = new List<nint>();
            for (void* page; (page = a.AllocPages(4, GfpFlags.Atomic)) != null;)
            {
                new Span<byte>(page, 16 * PageAllocator.PageSize).Fill(0xa5);
                held.Add((nint)page);
            }

            long free = a.BuddyInfo().FreePages;
            foreach (nint at in (nint[])[(nint)block + (nint)(2 * Section), (nint)block, (nint)block + 4096, (nint)block + (nint)(3 * Section) + 100])
            {
                var e = Assert.Throws<ArgumentException>(() => new PageAllocator((void*)at, 4 * Section));
                Assert.Contains("belongs to another allocator's memory", e.Message);
                Assert.Contains("Nothing was written.", e.Message);
            }

            foreach (nint page in held)
            {
                Assert.True(new ReadOnlySpan<byte>((void*)page, 16 * PageAllocator.PageSize).IndexOfAnyExcept((byte)0xa5) < 0, $"block 0x{page:x} of the first allocator was overwritten");
                a.FreePages((void*)page, 4);
            }

            Assert.True(a.BuddyInfo().FreePages > free);
            Usable.Check(a);
            a.Dispose();
            Assert.Throws<ObjectDisposedException>(() => a.AllocPages(0));

            // The memory is free again: an allocator over it now works.
            using var b = new PageAllocator(block + (2 * Section), 4 * Section);
            Usable.Check(b);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.AlignedFree(block);
        }
    }

    [Fact]
    public void Under_red_zones_a_write_into_a_slots_padding_is_reported_on_free_and_on_reuse()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("trust-pad", 100, 64, SlabFlags.RedZone, pages);
        nuint slotEnd = cache.Layout.Stride - cache.Layout.LeftZone; // from the object's start
        Assert.True(slotEnd > cache.Layout.FreePointerOffset + 8, "the layout has padding");

        byte* obj = (byte*)cache.Alloc();
        obj[slotEnd - 1] = 0; // the slot's last byte: past the red zone and the free pointer
        var e = Assert.Throws<InvalidOperationException>(() => cache.Free(obj));
        Assert.Contains($"padding overwritten: byte {(int)slotEnd - 1 - 100} past the end (in the slot's padding) was 0x00, expected 0x5a", e.Message);
        Assert.Equal(0, cache.LiveObjects);
        Usable.Check(cache);

        // A write into a free object's padding: reported when the object is handed out again.
        var all = new List<nint>();
        byte* freed = (byte*)cache.Alloc();
        cache.Free(freed);
        freed[slotEnd - 2] = 1;
        InvalidOperationException? reuse = null;
        for (int i = 0; i < 10_000 && reuse is null; i++)
        {
            try
            {
                all.Add((nint)cache.Alloc());
            }
            catch (InvalidOperationException caught)
            {
                reuse = caught;
            }
        }

        Assert.NotNull(reuse);
        Assert.Contains($"padding of free object 0x{(nuint)freed:x} overwritten", reuse.Message);
        all.ForEach(o => cache.Free((void*)o));
        Usable.Check(cache);
    }

    [Fact]
    public void A_kmalloc_debug_object_overflowed_past_its_red_zone_into_the_slots_padding_is_reported()
    {
        ChildProcess.Run(OverflowIntoKmallocPadding, environment: ("SLABGEN_SLAB_DEBUG", "Z,kmalloc-4k"));
    }

    private static void OverflowIntoKmallocPadding()
    {
        var p = (byte*)SlabGen.Kmem.Kmalloc(4096);
        new Span<byte>(p + 4096 + 32, 32).Fill(0x41); // bytes 32..63 past the end
        var e = Assert.Throws<InvalidOperationException>(() => SlabGen.Kmem.Kfree(p));
        Assert.Contains("padding overwritten: byte 32 past the end (in the slot's padding) was 0x41", e.Message);
        Usable.Check(KmallocCaches.For(4096));
    }
}

/// <summary>A [SlabCache] struct of the trust tests.</summary>
[SlabCache(Name = "trust-spark")]
public partial struct TrustSpark
{
    /// <summary>A payload.</summary>
    public long Heat;
}
