// The generated New/TryNew/TryAlloc: no overload captures a constructor's argument, and the Try forms report failure
// instead of throwing.
using SlabGen.CompilerServices;

namespace SlabGen.Tests.Typed;

public sealed unsafe class GeneratedOverloadTests
{
    [Fact]
    public void New_with_a_literal_0_calls_the_constructor_instead_of_reading_0_as_flags()
    {
        SlabRef<Ticket> zero = Ticket.New(0);
        SlabRef<Ticket> noted = Ticket.New(0, "a", "b");
        SlabRef<Ticket> plain = Ticket.New();
        SlabRef<Ticket> atomic = Ticket.New(GfpFlags.Atomic | GfpFlags.Zero);
        try
        {
            Assert.Equal(1000, zero.Value.Number);
            Assert.True(zero.Value.Issued);
            Assert.Equal(1002, noted.Value.Number);
            Assert.False(plain.Value.Issued);
            Assert.Equal(0, plain.Value.Number);
            Assert.False(atomic.Value.Issued);
        }
        finally
        {
            Ticket.Free(zero);
            Ticket.Free(noted);
            Ticket.Free(plain);
            Ticket.Free(atomic);
        }
    }

    [Fact]
    public void TryNew_and_TryAlloc_return_true_with_a_live_checked_handle()
    {
        Assert.True(Ticket.TryNew(5, out SlabRef<Ticket> ticket));
        Assert.True(ticket.IsChecked);
        Assert.Equal(1005, ticket.Value.Number);
        Assert.True(Ticket.TryNew(5, ["x"], out SlabRef<Ticket> noted, GfpFlags.Kernel));
        Assert.Equal(1006, noted.Value.Number);
        Assert.True(Ticket.TryAlloc(out SlabRef<Ticket> raw, GfpFlags.Atomic));
        Assert.False(raw.IsNull);
        Ticket.Free(ticket);
        Ticket.Free(noted);
        Ticket.Free(raw);
        Assert.Throws<ObjectDisposedException>(() => ticket.Value.Number);
    }

    [Fact]
    public void TryAllocRef_returns_the_null_handle_under_a_cap_where_AllocRef_throws_and_the_cache_stays_usable()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        KmemCache<TryBlock> cache = TypeCache<TryBlock>.Create("try-blocks", SlabFlags.None, 0, false, null, pages);
        nint slot = 0;
        var held = new List<SlabRef<TryBlock>>();
        SlabRef<TryBlock> next;
        while (!(next = TypeCache<TryBlock>.TryAlloc(cache, ref slot, GfpFlags.Kernel)).IsNull)
        {
            next.Value.A = held.Count;
            held.Add(next);
        }

        Assert.True(held.Count > 1000);
        var error = Assert.Throws<SlabOutOfMemoryException>(() => TypeCache<TryBlock>.Alloc(cache, ref slot, GfpFlags.Kernel));
        Assert.Equal("try-blocks", error.CacheName);
        Assert.Equal(GfpFlags.Kernel, error.Flags);
        Assert.Equal(4 << 20, error.MaxBytes);
        Assert.Contains("MaxBytes cap of 4,194,304 bytes", error.Message);
        Assert.True(TypeCache<TryBlock>.TryAllocChecked(cache, ref slot, GfpFlags.Atomic).IsNull);

        TypeCache<TryBlock>.Free(cache, ref slot, held[^1]);
        Assert.False(TypeCache<TryBlock>.TryAlloc(cache, ref slot, GfpFlags.Atomic).IsNull);
        for (int i = 0; i < held.Count - 1; i++)
        {
            Assert.Equal(i, held[i].Value.A);
            TypeCache<TryBlock>.Free(cache, ref slot, held[i]);
        }

        cache.Shrink();
    }

    [Fact]
    public void An_unhandled_typed_out_of_memory_prints_its_message_and_stack() =>
        Assert.Contains("Slab cache 'unhandled-oom' could not allocate one TryBlock under GfpFlags.Atomic: GfpFlags.Atomic never takes memory",
            ChildProcess.RunUnhandled(ThrowTypedOutOfMemory));

    private static void ThrowTypedOutOfMemory()
    {
        using var pages = new PageAllocator();
        KmemCache<TryBlock> cache = TypeCache<TryBlock>.Create("unhandled-oom", SlabFlags.None, 0, false, null, pages);
        nint slot = 0;
        TypeCache<TryBlock>.Alloc(cache, ref slot, GfpFlags.Atomic);
    }

    public struct TryBlock
    {
        public long A, B, C, D;
    }
}
