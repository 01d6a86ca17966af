// The runtime half of generated caches, called directly: out of memory names the cache and leaves it usable,
// and the hidden fast-path slot is filled only for caches without debug flags.
namespace SlabGen.Tests.Typed;

public sealed unsafe class TypeCacheRuntimeTests
{
    [Fact]
    public void Out_of_memory_throws_naming_the_cache_and_the_cache_works_once_memory_is_back()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        KmemCache<OomBlock> cache = KmemCache<OomBlock>.CreateForType("oom-blocks", SlabFlags.None, 0, false, null, pages);
        nint slot = 0;
        var held = new List<SlabRef<OomBlock>>();

        OutOfMemoryException? error = null;
        try
        {
            for (int i = 0; i < 1_000_000; i++)
            {
                held.Add(cache.AllocRef(ref slot, GfpFlags.Kernel));
            }
        }
        catch (OutOfMemoryException e)
        {
            error = e;
        }

        Assert.NotNull(error);

        Assert.Contains("oom-blocks", error.Message, StringComparison.Ordinal);
        Assert.NotEmpty(held);
        cache.FreeRef(ref slot, held[^1]);
        SlabRef<OomBlock> again = cache.AllocRef(ref slot, GfpFlags.Atomic);
        Assert.Equal((nint)held[^1].RawPointer, (nint)again.RawPointer);
        held.ForEach(h => cache.FreeRef(ref slot, h));
    }

    [Fact]
    public void A_generated_caches_New_under_a_cap_gets_what_another_cache_parked_on_an_exited_thread()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        using KmemCache other = KmemCache.Create("parked-by-exited", 64, 0, pages: pages);
        long parked = 0;
        PerThread.ParkedThread.RunAndExit(() => parked = PerThread.NoFalseOutOfMemoryTests.FillAndFree(other));
        KmemCache<CappedBlock> cache = KmemCache<CappedBlock>.CreateForType("capped-blocks", SlabFlags.None, 0, false, null, pages);
        nint slot = 0;
        var held = new List<SlabRef<CappedBlock>>();

        for (long i = 0; i < parked; i++)
        {
            SlabRef<CappedBlock> obj = cache.AllocRef(ref slot, GfpFlags.Kernel);
            obj.Value.A = i;
            held.Add(obj);
        }

        Assert.Equal(parked, cache.LiveObjects);
        Assert.Equal(0, other.SlabCount);
        Assert.Throws<SlabOutOfMemoryException>(() => cache.AllocRef(ref slot, GfpFlags.Kernel));
        for (int i = 0; i < held.Count; i++)
        {
            Assert.Equal(i, held[i].Value.A);
            cache.FreeRef(ref slot, held[i]);
        }

        Assert.Equal(0, cache.LiveObjects);
        cache.Shrink();
    }

    [Fact]
    public void The_fast_path_slot_is_filled_for_plain_caches_and_left_empty_for_debug_caches()
    {
        KmemCache<PlainBlock> plain = KmemCache<PlainBlock>.CreateForType("slot-plain", SlabFlags.None, 0, false, null);
        KmemCache<DebugBlock> debug = KmemCache<DebugBlock>.CreateForType("slot-debug", SlabFlags.RedZone, 0, false, null);
        nint plainSlot = 0;
        nint debugSlot = 0;

        plain.FreeRef(ref plainSlot, plain.AllocRef(ref plainSlot, GfpFlags.Kernel));
        debug.FreeRef(ref debugSlot, debug.AllocRef(ref debugSlot, GfpFlags.Kernel));

        Assert.NotEqual(0, plainSlot);
        Assert.Equal(0, debugSlot);
        Assert.Throws<InvalidOperationException>(plain.Destroy);
    }

    [Fact]
    public void A_struct_has_one_cache_and_a_second_is_refused()
    {
        static void Ctor(ref Constructed2 obj) => obj.X = 1;
        KmemCache<Constructed2> first = KmemCache<Constructed2>.CreateForType("ctor-first", SlabFlags.None, 0, false, Ctor);

        var error = Assert.Throws<InvalidOperationException>(() => KmemCache<Constructed2>.CreateForType("ctor-second", SlabFlags.None, 0, false, null));

        Assert.Contains("ctor-first", error.Message, StringComparison.Ordinal);
        nint slot = 0;
        SlabRef<Constructed2> obj = first.AllocRef(ref slot, GfpFlags.Kernel);
        Assert.Equal(1, obj.Value.X);
        first.FreeRef(ref slot, obj);
    }

    public struct OomBlock
    {
        public long A, B, C, D;
    }

    public struct CappedBlock
    {
        public long A, B, C, D, E, F, G, H;
    }

    public struct PlainBlock
    {
        public long A, B, C, D;
    }

    public struct DebugBlock
    {
        public long A, B, C, D;
    }

    public struct Constructed2
    {
        public long X;
    }
}
