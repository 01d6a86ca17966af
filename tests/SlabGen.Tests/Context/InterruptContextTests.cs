namespace SlabGen.Tests.Context;

using Kmem = SlabGen.Kmem;

public sealed unsafe class InterruptContextTests
{
    private const string Bug = "BUG: sleeping function called from invalid context";

    [Fact]
    public void Scopes_nest_per_thread()
    {
        Assert.False(InterruptContext.IsActive);
        using (InterruptContext.Enter())
        {
            Assert.True(InterruptContext.IsActive);
            using (InterruptContext.Enter())
            {
                Assert.True(InterruptContext.IsActive);
            }

            Assert.True(InterruptContext.IsActive);
            bool otherThread = true;
            var thread = new Thread(() => otherThread = InterruptContext.IsActive);
            thread.Start();
            thread.Join();
            Assert.False(otherThread, "another thread is not in this thread's interrupt context");
        }

        Assert.False(InterruptContext.IsActive);
    }

    [Fact]
    public void Leaving_scopes_out_of_order_or_twice_is_refused()
    {
        InterruptContext.Scope outer = InterruptContext.Enter();
        InterruptContext.Scope inner = InterruptContext.Enter();
        Assert.Throws<InvalidOperationException>(outer.Dispose);
        inner.Dispose();
        outer.Dispose();
        Assert.Throws<InvalidOperationException>(outer.Dispose);
        Assert.False(InterruptContext.IsActive);
    }

    [Fact]
    public void Vmalloc_Vzalloc_and_Kvmalloc_throw_the_kernels_message_with_the_call_site()
    {
        using (InterruptContext.Enter())
        {
            var e = Assert.Throws<InvalidOperationException>(() => Kmem.Vmalloc(4096));
            Assert.StartsWith(Bug, e.Message);
            Assert.Contains("InterruptContextTests.cs:", e.Message);
            Assert.Contains("vmalloc", e.Message);
            Assert.StartsWith(Bug, Assert.Throws<InvalidOperationException>(() => Kmem.Vzalloc(4096)).Message);
            Assert.StartsWith(Bug, Assert.Throws<InvalidOperationException>(() => Kmem.Kvmalloc(64, GfpFlags.Atomic)).Message);
        }

        void* area = Kmem.Vmalloc(4096);
        Assert.True(area != null, "outside the scope vmalloc works");
        Kmem.Vfree(area);
    }

    [Fact]
    public void Kernel_allocations_throw_inside_a_scope_even_when_the_fast_path_could_serve_them()
    {
        using KmemCache cache = KmemCache.Create("irq-test", 64, 0);
        cache.Free(cache.Alloc()); // warm: the thread's array cache holds objects
        Kmem.Kfree(Kmem.Kmalloc(64));
        PageAllocator.Shared.FreePages(PageAllocator.Shared.AllocPages(0), 0);

        using (InterruptContext.Enter())
        {
            Assert.StartsWith(Bug, Assert.Throws<InvalidOperationException>(() => cache.Alloc()).Message);
            Assert.StartsWith(Bug, Assert.Throws<InvalidOperationException>(() => Kmem.Kmalloc(64)).Message);
            Assert.StartsWith(Bug, Assert.Throws<InvalidOperationException>(() => Kmem.Kmalloc(100_000)).Message);
            Assert.StartsWith(Bug, Assert.Throws<InvalidOperationException>(() => Kmem.Kzalloc(16)).Message);
            Assert.StartsWith(Bug, Assert.Throws<InvalidOperationException>(() => PageAllocator.Shared.AllocPages(0)).Message);
        }
    }

    [Fact]
    public void Atomic_allocations_and_frees_work_inside_a_scope()
    {
        using KmemCache cache = KmemCache.Create("irq-atomic", 64, 0);
        cache.Free(cache.Alloc());
        Kmem.Kfree(Kmem.Kmalloc(64));

        using (InterruptContext.Enter())
        {
            void* obj = cache.Alloc(GfpFlags.Atomic);
            void* memory = Kmem.Kmalloc(64, GfpFlags.Atomic);
            Assert.True(obj != null && memory != null);
            cache.Free(obj);
            Kmem.Kfree(memory);
        }
    }

    [Fact]
    public void Vfree_inside_a_scope_is_deferred_until_the_next_vmalloc_family_call_outside()
    {
        void* area = Kmem.Vmalloc(8192);
        int before = Kmem.DeferredFreeCount;
        using (InterruptContext.Enter())
        {
            Kmem.Vfree(area);
            Assert.Equal(before + 1, Kmem.DeferredFreeCount);
            Assert.DoesNotContain($"0x{(nuint)area:x16}-", Kmem.VmallocInfo());
        }

        void* next = Kmem.Vmalloc(4096);
        Assert.True(Kmem.DeferredFreeCount <= before, "the next vmalloc outside the scope released the deferred area");
        Kmem.Vfree(next);
    }

    [Fact]
    public void Kvmalloc_served_by_kmalloc_releases_the_vfrees_deferred_in_a_scope()
    {
        void* area = Kmem.Vmalloc(8192);
        using (InterruptContext.Enter())
        {
            Kmem.Vfree(area);
        }

        Assert.True(Kmem.DeferredFreeCount >= 1);
        void* small = Kmem.Kvmalloc(64);
        Assert.Equal(0, Kmem.DeferredFreeCount);
        Kmem.Kvfree(small);
    }

    [Fact]
    public void The_sleeping_message_gives_advice_that_fits_the_call()
    {
        using (InterruptContext.Enter())
        {
            Assert.Contains("Use GfpFlags.Atomic", Assert.Throws<InvalidOperationException>(() => Kmem.Kmalloc(64)).Message);
            string vmalloc = Assert.Throws<InvalidOperationException>(() => Kmem.Vmalloc(4096)).Message;
            Assert.Contains("allocate it before entering the scope", vmalloc);
            Assert.DoesNotContain("Use GfpFlags.Atomic", vmalloc);
            string mine = Assert.Throws<InvalidOperationException>(() => InterruptContext.MightSleep("my db call")).Message;
            Assert.Contains("my db call may sleep", mine);
            Assert.Contains("Do it outside the InterruptContext scope", mine);
            Assert.DoesNotContain("GfpFlags", mine);
        }
    }

    [Fact]
    public void A_scope_the_entering_thread_entered_again_since_is_left_alone_when_disposed_elsewhere()
    {
        InterruptContext.Scope outer = default;
        InterruptContext.Scope inner = default;
        nint word = 0;
        var entering = new Thread(() =>
        {
            outer = InterruptContext.Enter();
            inner = InterruptContext.Enter();
            word = (nint)ThreadSlots.InterruptDepthWord;
        });
        entering.Start();
        entering.Join();

        var error = Assert.Throws<InvalidOperationException>(outer.Dispose);
        Assert.Contains("is at depth 2 now and was left alone", error.Message);
        Assert.Equal(2, *(int*)word);
        Assert.Throws<InvalidOperationException>(inner.Dispose);
        Assert.Equal(1, *(int*)word);
        Assert.False(InterruptContext.IsActive);
        Assert.Throws<InvalidOperationException>(() => default(InterruptContext.Scope).Dispose());
    }
}
