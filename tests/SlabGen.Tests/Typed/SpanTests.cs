// Spans over slab memory: a typed object as one element or its bytes, a kmalloc block as its usable bytes; checked
// handles refuse a span of a freed object, and what is not kmalloc memory is refused by name.
namespace SlabGen.Tests.Typed;

public sealed unsafe class SpanTests
{
    [Fact]
    public void A_handle_s_span_is_its_object_and_its_bytes_are_the_struct_s()
    {
        SlabRef<Payload> obj = Payload.New(5);

        Span<Payload> one = obj.AsSpan();
        one[0].A = 77;

        Assert.Equal(1, one.Length);
        Assert.Equal(77, obj.Value.A);
        Assert.Equal(sizeof(Payload), obj.AsBytes().Length);
        Assert.True(obj.AsBytes().SequenceEqual(new ReadOnlySpan<byte>(obj.AsPointer(), sizeof(Payload))));
        Payload.Free(obj);
        Assert.True(default(SlabRef<Payload>).AsSpan().IsEmpty);
    }

    [Fact]
    public void A_checked_handle_refuses_a_span_once_its_object_is_freed()
    {
        SlabRef<Entity> entity = Entity.Alloc();
        Assert.Equal(1, entity.AsSpan().Length);
        Entity.Free(entity);

        var error = Assert.Throws<ObjectDisposedException>(() => entity.AsSpan());

        Assert.Contains("AsSpan on a handle whose Entity was freed", error.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => entity.AsBytes());
    }

    [Fact]
    public void A_kmalloc_span_covers_the_usable_size_of_small_and_large_blocks()
    {
        foreach (nuint size in (nuint[])[1, 100, 8192, 100_000])
        {
            var memory = (byte*)SlabGen.Kmem.Kmalloc(size);
            Span<byte> bytes = SlabGen.Kmem.AsSpan(memory);
            bytes.Fill(0xa5);

            Assert.Equal((int)SlabGen.Kmem.Ksize(memory), bytes.Length);
            Assert.True(bytes.Length >= (int)size);
            Assert.Equal(0xa5, memory[bytes.Length - 1]);
            SlabGen.Kmem.Kfree(memory);
        }

        nint foreign = (nint)System.Runtime.InteropServices.NativeMemory.Alloc(64);
        try
        {
            Assert.Contains("foreign pointer", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.AsSpan((void*)foreign)).Message, StringComparison.Ordinal);
        }
        finally
        {
            System.Runtime.InteropServices.NativeMemory.Free((void*)foreign);
        }

        Assert.Throws<ArgumentNullException>(() => SlabGen.Kmem.AsSpan(null));
    }
}
