using SlabGen.Tests.Typed;

namespace SlabGen.Tests.Misuse;

using Kmem = SlabGen.Kmem;

/// <summary>
/// Checked frees in default mode, on every free path: a double free while the object is free (on a thread's stack,
/// in the depot, on its slab's freelist) and a pointer that is not an object's start throw ArgumentException and
/// change nothing; the next allocations never hand out one address twice or an address inside a live object.
/// </summary>
[Collection(PerThread.Collections.Collection)]
public sealed unsafe class CheckedFreeTests
{
    private const ulong Constructed = 0xC0FFEE_0000_C0FFEE;

    [Theory]
    [InlineData(8)]
    [InlineData(64)]
    [InlineData(100)]
    [InlineData(700)]
    [InlineData(5000)]
    public void A_double_free_of_an_object_on_the_threads_stack_is_refused_and_changes_nothing(int size)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("double-stack", (nuint)size, 0, pages: pages);
        void* keep = cache.Alloc();
        void* victim = cache.Alloc();
        cache.Free(victim);

        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => cache.Free(victim)).Message);
        AssertDistinctAllocations(cache, 4);
        cache.Free(keep);
        Usable.Check(cache);
    }

    [Fact]
    public void Free_a_free_b_free_a_is_refused()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("aba", 64, 0, pages: pages);
        void* a = cache.Alloc();
        void* b = cache.Alloc();
        cache.Free(a);
        cache.Free(b);

        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => cache.Free(a)).Message);
        AssertDistinctAllocations(cache, 3);
        Usable.Check(cache);
    }

    [Fact]
    public void A_double_free_of_an_object_in_the_depot_is_refused()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("double-depot", 64, 0, pages: pages);
        var objects = Enumerable.Range(0, 2_000).Select(_ => (nint)cache.Alloc()).ToArray();
        foreach (nint obj in objects)
        {
            cache.Free((void*)obj);
        }

        Assert.True(cache.DepotObjects > 0);
        Assert.Contains("already free (cached", Assert.Throws<ArgumentException>(() => cache.Free((void*)objects[0])).Message);
        AssertDistinctAllocations(cache, 2_000);
        Usable.Check(cache);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_double_free_of_an_object_back_on_its_slabs_freelist_is_refused(bool constructor)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("double-freelist", 64, 0, SlabFlags.None, constructor ? &Construct : null, pages);
        void* keep = cache.Alloc();
        void* victim = cache.Alloc();
        Assert.True(PageAllocator.HeadFrameOf(keep) == PageAllocator.HeadFrameOf(victim), "one slab");
        cache.Free(victim);
        cache.Shrink(); // the stacks go back to the slabs; the slab stays, keep is live

        Assert.Contains("on its slab's freelist", Assert.Throws<ArgumentException>(() => cache.Free(victim)).Message);
        Assert.Equal(1, cache.LiveObjects);
        AssertDistinctAllocations(cache, 200);
        cache.Free(keep);
        Usable.Check(cache);
    }

    [Fact]
    public void A_double_free_on_another_thread_is_refused()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("double-cross", 64, 0, pages: pages);
        void* victim = cache.Alloc();
        PerThread.ParkedThread.RunAndExit(() => cache.Free(victim));

        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => cache.Free(victim)).Message);
        var other = new Thread(() => Assert.Throws<ArgumentException>(() => cache.Free(victim)));
        other.Start();
        other.Join();
        AssertDistinctAllocations(cache, 300);
        Usable.Check(cache);
    }

    [Theory]
    [InlineData(64, 8)]
    [InlineData(64, 1)]
    [InlineData(64, 56)]
    [InlineData(96, 32)]
    [InlineData(100, 8)]
    [InlineData(3000, 2048)]
    [InlineData(5000, 4096)] // in the slab's second page
    public void An_interior_pointer_is_refused_and_the_object_stays_live(int size, int into)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("interior", (nuint)size, 0, pages: pages);
        var obj = (byte*)cache.Alloc();
        new Span<byte>(obj, size).Fill(0x5A);

        Assert.Contains("interior pointer", Assert.Throws<ArgumentException>(() => cache.Free(obj + into)).Message);
        Assert.True(new ReadOnlySpan<byte>(obj, size).IndexOfAnyExcept((byte)0x5A) < 0, "the object is untouched");
        AssertNoAllocationInside(cache, obj, size, 500);
        cache.Free(obj);
        Usable.Check(cache);
    }

    [Theory]
    [InlineData(8)]
    [InlineData(64)]
    [InlineData(96)]
    [InlineData(192)]
    [InlineData(1000)]
    [InlineData(8192)]
    public void Kfree_refuses_double_frees_and_interior_pointers_of_every_size_class(int size)
    {
        var memory = (byte*)Kmem.Kmalloc((nuint)size);
        var keep = (byte*)Kmem.Kmalloc((nuint)size);
        Assert.Contains("interior pointer", Assert.Throws<ArgumentException>(() => Kmem.Kfree(memory + 8 % size + (size > 8 ? 0 : 1))).Message);
        Kmem.Kfree(memory);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => Kmem.Kfree(memory)).Message);

        var again = new List<nint>();
        for (int i = 0; i < 300; i++)
        {
            var next = (byte*)Kmem.Kmalloc((nuint)size);
            Assert.False(next > keep && next < keep + size, "nothing inside a live allocation");
            again.Add((nint)next);
        }

        Assert.Equal(again.Count, again.Distinct().Count());
        again.ForEach(p => Kmem.Kfree((void*)p));
        Kmem.Kfree(keep);
    }

    [Fact]
    public void Kfree_of_an_ordinary_caches_object_checks_it_as_KmemCache_Free_does()
    {
        using KmemCache cache = KmemCache.Create("kfree-ordinary", 48, 0);
        var obj = (byte*)cache.Alloc();
        Assert.Contains("interior pointer", Assert.Throws<ArgumentException>(() => Kmem.Kfree(obj + 16)).Message);
        Kmem.Kfree(obj);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => Kmem.Kfree(obj)).Message);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => cache.Free(obj)).Message);
        AssertDistinctAllocations(cache, 10);
    }

    [Fact]
    public void A_double_free_through_a_copied_generated_handle_is_refused()
    {
        SlabRef<Payload> handle = Payload.New(3);
        SlabRef<Payload> copy = handle;
        Payload.Free(handle);

        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => Payload.Free(copy)).Message);
        SlabRef<Payload> a = Payload.New(1);
        SlabRef<Payload> b = Payload.New(2);
        Assert.NotEqual((nint)a.RawPointer, (nint)b.RawPointer);
        Assert.True(a.Value.IsIntact && b.Value.IsIntact);
        Payload.Free(a);
        Payload.Free(b);
    }

    [Fact]
    public void A_constructor_cache_keeps_every_byte_of_the_constructed_state_through_frees_and_drains()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("ctor-state", 64, 0, SlabFlags.None, &Construct, pages);
        var objects = Enumerable.Range(0, 1_000).Select(_ => (nint)cache.Alloc()).ToArray();
        Assert.All(objects, o => AssertConstructed((byte*)o));
        foreach (nint obj in objects)
        {
            cache.Free((void*)obj);
        }

        cache.Shrink();
        objects = Enumerable.Range(0, 1_000).Select(_ => (nint)cache.Alloc()).ToArray();
        Assert.All(objects, o => AssertConstructed((byte*)o));
        foreach (nint obj in objects)
        {
            cache.Free((void*)obj);
        }
    }

    [Fact]
    public void An_allocated_object_whose_data_looks_free_is_freed_normally()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("looks-free", 64, 0, pages: pages);
        var neighbour = (byte*)cache.Alloc();
        var obj = (byte*)cache.Alloc();
        *(nint*)obj = (nint)neighbour ^ cache.FreeTag; // as if its successor on a freelist were its neighbour

        cache.Free(obj);
        Assert.Equal(1, cache.LiveObjects);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => cache.Free(obj)).Message);
        cache.Free(neighbour);
        Usable.Check(cache);
    }

    private static void Construct(void* obj)
    {
        var words = (ulong*)obj;
        for (int i = 0; i < 8; i++)
        {
            words[i] = Constructed + (ulong)i;
        }
    }

    private static void AssertConstructed(byte* obj)
    {
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(Constructed + (ulong)i, ((ulong*)obj)[i]);
        }
    }

    private static void AssertDistinctAllocations(KmemCache cache, int count)
    {
        var objects = Enumerable.Range(0, count).Select(_ => (nint)cache.Alloc()).ToArray();
        Assert.DoesNotContain(0, objects);
        Assert.Equal(count, objects.Distinct().Count());
        foreach (nint obj in objects)
        {
            cache.Free((void*)obj);
        }
    }

    private static void AssertNoAllocationInside(KmemCache cache, byte* live, int size, int count)
    {
        var objects = Enumerable.Range(0, count).Select(_ => (nint)cache.Alloc()).ToArray();
        Assert.DoesNotContain(objects, o => o > (nint)live - size && o < (nint)live + size);
        foreach (nint obj in objects)
        {
            cache.Free((void*)obj);
        }
    }

    [Fact]
    public void The_process_switch_turns_the_checks_off_and_the_fast_paths_leave_objects_untouched() =>
        ChildProcess.Run(UncheckedFrees, TimeSpan.FromSeconds(60), ("SLABGEN_DISABLE_FREE_CHECKS", "1"));

    private static void UncheckedFrees()
    {
        Assert.False(ArrayCache.FreeChecks);
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("unchecked", 64, 0, pages: pages);
        var obj = (long*)cache.Alloc();
        *obj = 0x1234;
        cache.Free(obj);
        Assert.Equal(0x1234, *obj);
        Assert.True(cache.Alloc() == obj);
        Assert.Equal(0x1234, *obj);
        cache.Free(obj);
        Usable.Check(cache, count: 2_000);
    }

    [Theory]
    [InlineData(1, false)]
    [InlineData(2, true)]
    [InlineData(3, false)]
    [InlineData(4, true)]
    public void A_model_of_untouched_objects_every_double_free_of_a_free_object_is_refused_and_nothing_else(int seed, bool constructor)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("checked-model", 48, 0, SlabFlags.None, constructor ? &Construct : null, pages);
        var random = new Random(seed);
        var live = new List<nint>();
        var free = new List<nint>();
        for (int step = 0; step < 30_000; step++)
        {
            int action = random.Next(100);
            if (action < 45 || live.Count == 0)
            {
                var obj = (nint)cache.Alloc(); // never written: its free word keeps a stale code
                Assert.DoesNotContain(obj, live);
                free.Remove(obj);
                live.Add(obj);
            }
            else if (action < 90)
            {
                int at = random.Next(live.Count);
                cache.Free((void*)live[at]);
                free.Add(live[at]);
                live.RemoveAt(at);
            }
            else if (action < 99 && free.Count != 0)
            {
                nint again = free[random.Next(free.Count)];
                Assert.Contains("double free", Assert.Throws<ArgumentException>(() => cache.Free((void*)again)).Message);
            }
            else
            {
                cache.Shrink();
                free.Clear(); // their slabs may be gone: a free of one is then a foreign pointer, not this case
            }
        }

        Assert.Equal(live.Count, cache.LiveObjects);
        live.ForEach(o => cache.Free((void*)o));
        Assert.Equal(0, cache.LiveObjects);
    }
}
