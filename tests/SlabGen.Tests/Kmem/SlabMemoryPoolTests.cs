// SlabMemoryPool: sizes, counts and refusals, rent and return from many threads with checksums, no managed memory in
// steady state, a cap, System.IO.Pipelines reading and writing through it, and SlabMemoryManager.
using System.Buffers;
using System.IO.Pipelines;
using System.Runtime.InteropServices;
using SlabGen.Tests.Misuse;

namespace SlabGen.Tests.Kmem;

public sealed class SlabMemoryPoolTests
{
    [Fact]
    public unsafe void Rents_get_their_kmalloc_class_or_page_block_and_the_counts_follow()
    {
        using var pages = new PageAllocator();
        using var kmalloc = new KmallocAllocator(pages, "pool-sizes");
        using var pool = new SlabMemoryPool(kmalloc, "test");

        IMemoryOwner<byte> standard = pool.Rent();
        IMemoryOwner<byte> small = pool.Rent(100);
        IMemoryOwner<byte> large = pool.Rent(100_000);
        IMemoryOwner<byte> largest = pool.Rent(pool.MaxBufferSize);

        Assert.Equal(4096, standard.Memory.Length);
        Assert.Equal(128, small.Memory.Length);
        Assert.Equal(128 << 10, large.Memory.Length);
        Assert.Equal(4 << 20, largest.Memory.Length);
        Assert.Equal(4, pool.RentedBuffers);
        Assert.Equal(4096 + 128 + (128 << 10) + (4 << 20), pool.RentedBytes);
        large.Memory.Span.Fill(0x5a);
        using (MemoryHandle pin = large.Memory.Pin())
        {
            Assert.Equal(0x5a, ((byte*)pin.Pointer)[99_999]);
        }

        foreach (IMemoryOwner<byte> owner in new[] { standard, small, large, largest })
        {
            owner.Dispose();
            owner.Dispose(); // returned once
        }

        Assert.Equal(0, pool.RentedBuffers);
        Assert.Equal(0, pool.RentedBytes);
        Assert.Throws<ObjectDisposedException>(() => small.Memory.Span.Length);
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(-2));
        Assert.Throws<ArgumentOutOfRangeException>(() => pool.Rent(pool.MaxBufferSize + 1));
        Assert.Equal(1, pool.Rent(0).Memory.Length > 0 ? 1 : 0);
    }

    [Fact]
    public void A_pinned_pool_hands_out_array_segments_of_slab_memory_within_its_budget_and_goes_when_disposed_and_idle()
    {
        SlabMemoryPool pool = SlabMemoryPool.CreatePinned(8 << 20, "pinned-test");
        Assert.True(pool.IsPinned);
        var owners = new List<IMemoryOwner<byte>>();

        var full = Assert.Throws<InsufficientMemoryException>((Action)(() =>
        {
            while (true)
            {
                IMemoryOwner<byte> owner = pool.Rent();
                Assert.True(MemoryMarshal.TryGetArray<byte>(owner.Memory, out ArraySegment<byte> segment));
                Assert.Equal(owner.Memory.Length, segment.Count);
                segment.AsSpan().Fill((byte)owners.Count);
                Assert.Equal((byte)owners.Count, owner.Memory.Span[^1]); // the segment is the buffer
                owners.Add(owner);
            }
        }));

        Assert.Contains("pinned-test", full.Message, StringComparison.Ordinal);
        Assert.InRange(owners.Count * 4096L, 8 << 20, (8 << 20) + (4 << 20));
        Assert.All(owners, static (o, i) => Assert.Equal((byte)i, o.Memory.Span[0]));
        Assert.Contains(SlabInfo.Snapshot(), static e => e.Name == "pinned-test-kmalloc-4k");
        pool.Dispose();
        owners.Skip(1).ToList().ForEach(static o => o.Dispose());
        Assert.Contains(SlabInfo.Snapshot(), static e => e.Name == "pinned-test-kmalloc-4k"); // one buffer still out
        owners[0].Dispose();
        Assert.DoesNotContain(SlabInfo.Snapshot(), static e => e.Name == "pinned-test-kmalloc-4k");
        Assert.Throws<ArgumentOutOfRangeException>(() => SlabMemoryPool.CreatePinned(1 << 20));
    }

    [Fact]
    public void Pinned_pools_side_by_side_on_the_pinned_heap_each_get_their_own_sections()
    {
        // Pinned arrays are packed next to each other: pools that shared a 4 MiB section would refuse to be made.
        SlabMemoryPool[] pools = [.. Enumerable.Range(0, 4).Select(static i => SlabMemoryPool.CreatePinned(8 << 20, $"side-by-side-{i}"))];
        IMemoryOwner<byte>[] owners = [.. pools.Select(static p => p.Rent())];

        for (int i = 0; i < owners.Length; i++)
        {
            owners[i].Memory.Span.Fill((byte)(i + 1));
        }

        Assert.All(owners, static (o, i) => Assert.True(o.Memory.Span.IndexOfAnyExcept((byte)(i + 1)) < 0));
        Array.ForEach(owners, static o => o.Dispose());
        Array.ForEach(pools, static p => p.Dispose());
        Assert.DoesNotContain(SlabInfo.Snapshot(), static e => e.Name.StartsWith("side-by-side-", StringComparison.Ordinal));
    }

    [Fact]
    public void A_native_pool_has_no_array_behind_its_buffers()
    {
        using var pool = new SlabMemoryPool();
        using IMemoryOwner<byte> owner = pool.Rent();

        Assert.False(pool.IsPinned);
        Assert.False(MemoryMarshal.TryGetArray<byte>(owner.Memory, out _));
    }

    [Fact]
    public void A_disposed_pool_refuses_rents_but_takes_its_buffers_back()
    {
        var pool = new SlabMemoryPool();
        IMemoryOwner<byte> owner = pool.Rent();
        pool.Dispose();

        Assert.Throws<ObjectDisposedException>(() => pool.Rent());
        owner.Dispose();
        Assert.Equal(0, pool.RentedBuffers);
    }

    [Fact]
    public void Under_a_cap_a_rent_fails_with_a_clear_message_and_works_again_after_returns()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        using var kmalloc = new KmallocAllocator(pages, "pool-capped");
        using var pool = new SlabMemoryPool(kmalloc, "capped");
        var owners = new List<IMemoryOwner<byte>>();

        var error = Assert.Throws<InsufficientMemoryException>((Action)(() =>
        {
            while (true)
            {
                owners.Add(pool.Rent());
            }
        }));

        Assert.Contains("cap of 4,194,304", error.Message, StringComparison.Ordinal);
        Assert.InRange(owners.Count, 900, 1024);
        owners.ForEach(static o => o.Dispose());
        using (IMemoryOwner<byte> again = pool.Rent())
        {
            Assert.Equal(4096, again.Memory.Length);
        }

        // The pool's reserve came from the caller's allocator: disposing the pool gives it back, so the allocator ends empty.
        pool.Dispose();
        Assert.All(kmalloc.Caches, static c => Assert.Equal(0, c.LiveObjects));
    }

    [Fact]
    public void Two_threads_rent_and_return_each_others_buffers_with_checksums_and_allocate_nothing_in_steady_state()
    {
        using var pool = new SlabMemoryPool(null, "threads") { ReuseOwners = true };
        var handoff = new System.Collections.Concurrent.ConcurrentQueue<IMemoryOwner<byte>>();
        long corrupted = 0, allocated = 0;
        Stress.RunThreads(2, (self, barrier) =>
        {
            var random = new Random(self);
            for (int phase = 0; phase < 2; phase++)
            {
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int i = 0; i < 20_000; i++)
                {
                    IMemoryOwner<byte> owner = pool.Rent(random.Next(2) == 0 ? -1 : random.Next(1, 9000));
                    Span<byte> span = owner.Memory.Span;
                    span[0] = (byte)span.Length;
                    span[^1] = (byte)(span.Length >> 3);
                    handoff.Enqueue(owner);
                    if (handoff.Count > 64 && handoff.TryDequeue(out IMemoryOwner<byte>? other))
                    {
                        Span<byte> seen = other.Memory.Span;
                        if (seen[0] != (byte)seen.Length || seen[^1] != (byte)(seen.Length >> 3))
                        {
                            Interlocked.Increment(ref corrupted);
                        }

                        other.Dispose();
                    }
                }

                if (phase == 1)
                {
                    Interlocked.Add(ref allocated, GC.GetAllocatedBytesForCurrentThread() - before);
                }

                barrier.SignalAndWait();
            }
        });
        while (handoff.TryDequeue(out IMemoryOwner<byte>? left))
        {
            left.Dispose();
        }

        Assert.Equal(0, corrupted);
        Assert.Equal(0, pool.RentedBuffers);
        Assert.True(allocated < 64 << 10, $"{allocated:N0} managed bytes in the second phase"); // the queue's segments, at most
    }

    [Fact]
    public async Task A_pipe_over_the_pool_carries_a_megabyte_intact_between_threads()
    {
        using var pool = new SlabMemoryPool(null, "pipe");
        var pipe = new Pipe(new PipeOptions(pool: pool, minimumSegmentSize: 4096, useSynchronizationContext: false));
        const int total = 1 << 20;
        long rentedWhileRunning = 0;

        Task writer = Task.Run(async () =>
        {
            for (int written = 0; written < total;)
            {
                Memory<byte> memory = pipe.Writer.GetMemory(1000);
                int n = Math.Min(Math.Min(memory.Length, 3000), total - written);
                for (int i = 0; i < n; i++)
                {
                    memory.Span[i] = (byte)((written + i) * 31);
                }

                pipe.Writer.Advance(n);
                written += n;
                Interlocked.Exchange(ref rentedWhileRunning, Math.Max(Interlocked.Read(ref rentedWhileRunning), pool.RentedBuffers));
                await pipe.Writer.FlushAsync();
            }

            await pipe.Writer.CompleteAsync();
        });
        long read = 0, wrong = 0;
        while (true)
        {
            ReadResult result = await pipe.Reader.ReadAsync();
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                foreach (byte b in segment.Span)
                {
                    wrong += b == (byte)(read * 31) ? 0 : 1;
                    read++;
                }
            }

            pipe.Reader.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await pipe.Reader.CompleteAsync();
        await writer;

        Assert.Equal(total, read);
        Assert.Equal(0, wrong);
        Assert.True(rentedWhileRunning > 0, "the pipe rented its segments from the pool");
        Assert.Equal(0, pool.RentedBuffers);
    }

    [Fact]
    public async Task A_stream_pipe_reader_rents_from_the_pool()
    {
        using var pool = new SlabMemoryPool(null, "stream");
        byte[] data = [.. Enumerable.Range(0, 50_000).Select(static i => (byte)i)];
        PipeReader reader = PipeReader.Create(new MemoryStream(data), new StreamPipeReaderOptions(pool: pool, bufferSize: 4096));
        var copy = new MemoryStream();

        await reader.CopyToAsync(copy);
        await reader.CompleteAsync();

        Assert.Equal(data, copy.ToArray());
        Assert.Equal(0, pool.RentedBuffers);
    }

    [Fact]
    public unsafe void A_memory_manager_views_any_block_and_an_owning_one_frees_its_kmalloc_block()
    {
        void* block = SlabGen.Kmem.Kmalloc(300);
        using (var view = new SlabMemoryManager(block, 300))
        {
            view.Memory.Span.Fill(3);
            Assert.Equal(3, ((byte*)block)[299]);
        }

        Assert.Equal(3, ((byte*)block)[0]); // a view leaves the block to its owner
        SlabGen.Kmem.Kfree(block);

        using var pages = new PageAllocator();
        using var kmalloc = new KmallocAllocator(pages, "manager");
        SlabMemoryManager owned = SlabMemoryManager.Kmalloc(1000, GfpFlags.Kernel, kmalloc);
        Memory<byte> memory = owned.Memory;
        Assert.Equal(1024, memory.Length);
        memory.Span.Fill(9);
        KmemCache sizeCache = KmemCache.CacheOf(System.Runtime.CompilerServices.Unsafe.AsPointer(ref memory.Span[0]))!;
        Assert.Equal(1, sizeCache.LiveObjects);
        ((IDisposable)owned).Dispose();
        Assert.Equal(0, sizeCache.LiveObjects);
        Assert.Throws<ObjectDisposedException>(() => memory.Span.Length);
        Assert.Throws<ArgumentNullException>(() => new SlabMemoryManager(null, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => SlabMemoryManager.Kmalloc(0));
    }
}
