using System.Collections.Concurrent;

namespace SlabGen.Tests.Kmem;

/// <summary>KmallocBuffer&lt;T&gt;: typed kmalloc memory with an owner, used without unsafe.</summary>
public sealed unsafe class KmallocBufferTests
{
    [Fact]
    public void A_rented_buffer_is_zeroed_typed_kmalloc_memory_viewed_as_span_and_memory_and_freed_once_by_Dispose()
    {
        var buffer = KmallocBuffer<float>.Rent(100);
        Assert.Equal(100, buffer.Length);
        Assert.Equal(100, buffer.GetSpan().Length);
        Assert.True(buffer.GetSpan().IndexOfAnyExcept(0f) < 0, "a rented buffer is zeroed");
        buffer.GetSpan()[7] = 1.5f;
        Memory<float> memory = buffer.Memory;
        Assert.Equal(1.5f, memory.Span[7]);

        void* address;
        using (System.Buffers.MemoryHandle handle = buffer.Pin(7))
        {
            Assert.Equal(1.5f, *(float*)handle.Pointer);
            address = (float*)handle.Pointer - 7;
        }

        Assert.True(SlabGen.Kmem.Ksize(address) >= 400, "the buffer is one kmalloc allocation of at least 400 bytes");
        Assert.Equal("KmallocBuffer<Single>[100]", buffer.ToString());

        ((IDisposable)buffer).Dispose();
        ((IDisposable)buffer).Dispose(); // once only: nothing happens
        Assert.Equal("KmallocBuffer<Single>[100] (disposed)", buffer.ToString());
        Assert.Throws<ObjectDisposedException>(() => buffer.GetSpan());
        Assert.Throws<ObjectDisposedException>(() => buffer.Pin());
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Kfree(address)).Message);
    }

    [Fact]
    public void Bad_lengths_are_refused_naming_the_problem_and_renting_still_works()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => KmallocBuffer<long>.Rent(0));
        Assert.Throws<ArgumentOutOfRangeException>(() => KmallocBuffer<long>.Rent(-5));
        var tooBig = Assert.Throws<ArgumentOutOfRangeException>(() => KmallocBuffer<long>.Rent(int.MaxValue));
        Assert.Contains("more than a span can hold", tooBig.Message);
        using var capped = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        using var small = new KmallocAllocator(capped, "buffer-cap");
        var refused = Assert.Throws<InsufficientMemoryException>(() => KmallocBuffer<byte>.Rent(8 << 20, GfpFlags.Kernel | GfpFlags.NoWarn, small));
        Assert.Contains("buffer-cap", refused.Message);

        using KmallocBuffer<long> ok = KmallocBuffer<long>.Rent(3);
        ok.GetSpan().Fill(42);
        Assert.Equal(126, ok.GetSpan()[0] + ok.GetSpan()[1] + ok.GetSpan()[2]);
    }

    [Fact]
    public void Buffers_rented_on_one_thread_are_read_and_disposed_on_another_with_contents_intact()
    {
        const int Count = 20_000;
        var handoff = new BlockingCollection<(KmallocBuffer<int> Buffer, int Seed)>(boundedCapacity: 256);
        long verified = 0, wrong = 0;

        // Neither side throws while the other may wait on the handoff: the producer always completes it, the
        // consumer counts what is wrong and goes on draining; the assertions come after both are done.
        Stress.RunThreads(2, (self, _) =>
        {
            if (self == 0)
            {
                try
                {
                    for (int i = 0; i < Count; i++)
                    {
                        var buffer = KmallocBuffer<int>.Rent(1 + (i % 300));
                        Span<int> span = buffer.GetSpan();
                        for (int j = 0; j < span.Length; j++)
                        {
                            span[j] = (i * 31) + j;
                        }

                        handoff.Add((buffer, i));
                    }
                }
                finally
                {
                    handoff.CompleteAdding();
                }

                return;
            }

            foreach ((KmallocBuffer<int> buffer, int seed) in handoff.GetConsumingEnumerable())
            {
                Span<int> span = buffer.GetSpan();
                for (int j = 0; j < span.Length; j++)
                {
                    wrong += span[j] == (seed * 31) + j ? 0 : 1;
                }

                ((IDisposable)buffer).Dispose();
                verified++;
            }
        });

        Assert.Equal(0, wrong);
        Assert.Equal(Count, verified);
    }
}
