// The runtime half of generated caches, called directly: out of memory names the cache and leaves it usable,
// and the hidden fast-path slot is filled only for caches without debug flags.
using SlabGen.CompilerServices;

namespace SlabGen.Tests.Typed;

public sealed unsafe class TypeCacheRuntimeTests
{
    [Fact]
    public void Out_of_memory_throws_naming_the_cache_and_the_cache_works_once_memory_is_back()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        KmemCache<OomBlock> cache = TypeCache<OomBlock>.Create("oom-blocks", SlabFlags.None, 0, false, null, pages);
        nint slot = 0;
        var held = new List<SlabRef<OomBlock>>();

        OutOfMemoryException? error = null;
        try
        {
            for (int i = 0; i < 1_000_000; i++)
            {
                held.Add(TypeCache<OomBlock>.Alloc(cache, ref slot, GfpFlags.Kernel));
            }
        }
        catch (OutOfMemoryException e)
        {
            error = e;
        }

        Assert.NotNull(error);

        Assert.Contains("oom-blocks", error.Message, StringComparison.Ordinal);
        Assert.NotEmpty(held);
        TypeCache<OomBlock>.Free(cache, ref slot, held[^1]);
        SlabRef<OomBlock> again = TypeCache<OomBlock>.Alloc(cache, ref slot, GfpFlags.Atomic);
        Assert.Equal((nint)held[^1].RawPointer, (nint)again.RawPointer);
        held.ForEach(h => TypeCache<OomBlock>.Free(cache, ref slot, h));
    }

    [Fact]
    public void A_generated_caches_New_under_a_cap_gets_what_another_cache_parked_on_an_exited_thread()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        using KmemCache other = KmemCache.Create("parked-by-exited", 64, 0, pages: pages);
        long parked = 0;
        PerThread.ParkedThread.RunAndExit(() => parked = PerThread.NoFalseOutOfMemoryTests.FillAndFree(other));
        KmemCache<CappedBlock> cache = TypeCache<CappedBlock>.Create("capped-blocks", SlabFlags.None, 0, false, null, pages);
        nint slot = 0;
        var held = new List<SlabRef<CappedBlock>>();

        for (long i = 0; i < parked; i++)
        {
            SlabRef<CappedBlock> obj = TypeCache<CappedBlock>.Alloc(cache, ref slot, GfpFlags.Kernel);
            obj.Value.A = i;
            held.Add(obj);
        }

        Assert.Equal(parked, cache.LiveObjects);
        Assert.Equal(0, other.SlabCount);
        Assert.Throws<SlabOutOfMemoryException>(() => TypeCache<CappedBlock>.Alloc(cache, ref slot, GfpFlags.Kernel));
        for (int i = 0; i < held.Count; i++)
        {
            Assert.Equal(i, held[i].Value.A);
            TypeCache<CappedBlock>.Free(cache, ref slot, held[i]);
        }

        Assert.Equal(0, cache.LiveObjects);
        cache.Shrink();
    }

    [Fact]
    public void The_fast_path_slot_is_filled_for_plain_caches_and_left_empty_for_debug_caches()
    {
        KmemCache<PlainBlock> plain = TypeCache<PlainBlock>.Create("slot-plain", SlabFlags.None, 0, false, null);
        KmemCache<DebugBlock> debug = TypeCache<DebugBlock>.Create("slot-debug", SlabFlags.RedZone, 0, false, null);
        nint plainSlot = 0;
        nint debugSlot = 0;

        TypeCache<PlainBlock>.Free(plain, ref plainSlot, TypeCache<PlainBlock>.Alloc(plain, ref plainSlot, GfpFlags.Kernel));
        TypeCache<DebugBlock>.Free(debug, ref debugSlot, TypeCache<DebugBlock>.Alloc(debug, ref debugSlot, GfpFlags.Kernel));

        Assert.NotEqual(0, plainSlot);
        Assert.Equal(0, debugSlot);
        Assert.Throws<InvalidOperationException>(plain.Destroy);
    }

    [Fact]
    public void A_struct_has_one_cache_and_a_second_is_refused()
    {
        static void Ctor(ref Constructed2 obj) => obj.X = 1;
        KmemCache<Constructed2> first = TypeCache<Constructed2>.Create("ctor-first", SlabFlags.None, 0, false, Ctor);

        var error = Assert.Throws<InvalidOperationException>(() => TypeCache<Constructed2>.Create("ctor-second", SlabFlags.None, 0, false, null));

        Assert.Contains("ctor-first", error.Message, StringComparison.Ordinal);
        nint slot = 0;
        SlabRef<Constructed2> obj = TypeCache<Constructed2>.Alloc(first, ref slot, GfpFlags.Kernel);
        Assert.Equal(1, obj.Value.X);
        TypeCache<Constructed2>.Free(first, ref slot, obj);
    }

    public struct OomBlock
    {
        public long A, B, C, D;
    }

    [Fact]
    public void The_type_cache_entry_points_refuse_a_cache_that_Create_made_and_leave_it_usable()
    {
        // Its thread static could outlive a cache that Destroy may end: the entry points serve only a type cache.
        using KmemCache<CreatedBlock> cache = KmemCache<CreatedBlock>.Create("not-a-type-cache");
        nint slot = 0;

        var alloc = Assert.Throws<InvalidOperationException>(() => TypeCache<CreatedBlock>.Alloc(cache, ref slot, GfpFlags.Kernel));
        CreatedBlock* mine = cache.Alloc();
        var free = Assert.Throws<InvalidOperationException>(() => TypeCache<CreatedBlock>.Free(cache, ref slot, new SlabRef<CreatedBlock>(mine)));

        Assert.Contains("'not-a-type-cache' is not the cache of a [SlabCache] struct", alloc.Message, StringComparison.Ordinal);
        Assert.Equal(alloc.Message, free.Message);
        Assert.Equal(0, slot);
        Assert.Equal(1, cache.LiveObjects);
        mine->A = 7;
        cache.Free(mine);
        Assert.Equal(0, cache.LiveObjects);
        cache.Destroy();
    }

    public struct CreatedBlock
    {
        public long A, B;
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
