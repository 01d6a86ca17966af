using System.Reflection;

namespace SlabGen.Tests.Misuse;

using Kmem = SlabGen.Kmem;

/// <summary>Failures a user can act on: flags mean what they read as, and every refusal names what the memory really is.</summary>
public sealed unsafe class FlagsAndMessagesTests
{
    [Fact]
    public void Flags_without_Atomic_may_sleep_so_Zero_alone_takes_memory_from_the_OS_in_a_fresh_allocator()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("zero-alone", 64, 0, pages: pages);

        var obj = (byte*)cache.Alloc(GfpFlags.Zero);
        Assert.True(obj != null, "GfpFlags.Zero means Kernel | Zero: it may grow the cache");
        Assert.True(new ReadOnlySpan<byte>(obj, 64).IndexOfAnyExcept((byte)0) < 0);
        new Span<byte>(obj, 64).Fill(0xAB);
        cache.Free(obj);
        Assert.True(new ReadOnlySpan<byte>(cache.Alloc(GfpFlags.Zero), 64).IndexOfAnyExcept((byte)0) < 0, "zeroed again from the array cache");

        void* block = pages.AllocPages(3, GfpFlags.None);
        Assert.True(block != null, "no flags may sleep too");
        pages.FreePages(block, 3);

        using var fresh = new PageAllocator();
        Assert.True(fresh.AllocPages(0, GfpFlags.Atomic) == null, "Atomic never takes an arena from the OS");
        Assert.True(fresh.AllocPages(0, GfpFlags.Zero | GfpFlags.NoWarn) != null);
        Assert.Throws<ArgumentException>(() => fresh.AllocPages(0, GfpFlags.Kernel | GfpFlags.Atomic));
        Assert.Throws<ArgumentException>(() => cache.Alloc(GfpFlags.Kernel | GfpFlags.Atomic | GfpFlags.Zero));
        Usable.Check(cache);
    }

    [Fact]
    public void Zero_alone_and_no_flags_are_refused_in_interrupt_context_and_Atomic_Zero_works()
    {
        using KmemCache cache = KmemCache.Create("zero-irq", 64, 0);
        cache.Free(cache.Alloc()); // warm: the array cache could serve it
        using (InterruptContext.Enter())
        {
            string message = Assert.Throws<InvalidOperationException>(() => cache.Alloc(GfpFlags.Zero)).Message;
            Assert.Contains("kmem_cache_alloc(zero-irq, GfpFlags.Zero)", message);
            Assert.Throws<InvalidOperationException>(() => cache.Alloc(GfpFlags.None));
            Assert.Throws<InvalidOperationException>(() => Kmem.Kzalloc(16, GfpFlags.None));
            Assert.Contains("alloc_pages(order 0, GfpFlags.Zero)",
                Assert.Throws<InvalidOperationException>(() => PageAllocator.Shared.AllocPages(0, GfpFlags.Zero)).Message);

            var obj = (byte*)cache.Alloc(GfpFlags.Atomic | GfpFlags.Zero);
            Assert.True(obj != null);
            Assert.True(new ReadOnlySpan<byte>(obj, 64).IndexOfAnyExcept((byte)0) < 0);
            cache.Free(obj);
        }
    }

    [Fact]
    public void Krealloc_with_Zero_after_shrinking_in_place_hands_out_zeroes_when_it_grows_again()
    {
        var memory = (byte*)Kmem.Kzalloc(64);
        new Span<byte>(memory, 64).Fill(0xEE);

        var shrunk = (byte*)Kmem.Krealloc(memory, 16, GfpFlags.Zero);
        Assert.True(shrunk == memory, "in place");
        var grown = (byte*)Kmem.Krealloc(shrunk, 64, GfpFlags.Zero);
        Assert.True(grown == memory, "in place again");

        Assert.True(new ReadOnlySpan<byte>(grown, 16).IndexOfAnyExcept((byte)0xEE) < 0, "the kept bytes are kept");
        Assert.True(new ReadOnlySpan<byte>(grown + 16, 48).IndexOfAnyExcept((byte)0) < 0, "the added bytes are zero");
        Kmem.Kfree(grown);
    }

    [Fact]
    public void FreePages_of_a_live_slab_or_kmalloc_block_names_its_owner_and_changes_nothing()
    {
        using KmemCache cache = KmemCache.Create("owner-named", 64, 0);
        var obj = (long*)cache.Alloc();
        *obj = 42;
        void* slab = PageAllocator.Shared.HeadPageOf(obj).Address;

        string slabMessage = Assert.Throws<ArgumentException>(() => PageAllocator.Shared.FreePages(slab, cache.SlabOrder)).Message;
        Assert.Contains("live slab of cache 'owner-named'", slabMessage);
        Assert.DoesNotContain("double free", slabMessage);

        var large = (long*)Kmem.Kmalloc(100_000);
        *large = 7;
        string largeMessage = Assert.Throws<ArgumentException>(() => PageAllocator.Shared.FreePages(large, 5)).Message;
        Assert.Contains("live kmalloc allocation: free it with Kmem.Kfree", largeMessage);

        Assert.Equal(42, *obj);
        Assert.Equal(7, *large);
        Kmem.Kfree(large);
        cache.Free(obj);
        Usable.Check(cache);
    }

    [Fact]
    public void PageOf_and_HeadPageOf_return_read_only_references()
    {
        foreach (string name in new[] { nameof(PageAllocator.PageOf), nameof(PageAllocator.HeadPageOf) })
        {
            MethodInfo method = typeof(PageAllocator).GetMethod(name)!;
            Assert.True(method.ReturnType.IsByRef);
            Assert.True(method.ReturnParameter.GetRequiredCustomModifiers().Contains(typeof(System.Runtime.InteropServices.InAttribute)),
                $"{name} returns ref readonly");
        }
    }
}
