// The async story of docs/server.md: objects allocated before an await and freed in continuations on other threads,
// Memory<byte> over slab memory held across awaits, and the allocator consistent afterwards.
using System.Buffers;

namespace SlabGen.Tests.Context;

public sealed class AsyncUseTests
{
    [Fact]
    public async Task Objects_allocated_before_an_await_are_read_and_freed_in_continuations_on_other_threads()
    {
        using var pages = new PageAllocator();
        using KmemCache<Payload> cache = KmemCache<Payload>.Create("async-objects", pages: pages);
        int allocatingThread = Environment.CurrentManagedThreadId;
        long bad = 0;
        var freeingThreads = new System.Collections.Concurrent.ConcurrentDictionary<int, bool>();

        await Task.WhenAll(Enumerable.Range(0, 64).Select(async i =>
        {
            nint obj = Allocate(cache, i);
            await Task.Delay(1 + (i % 3));
            freeingThreads[Environment.CurrentManagedThreadId] = true;
            if (!FreeChecked(cache, obj, i))
            {
                Interlocked.Increment(ref bad);
            }
        }));

        Assert.Equal(0, bad);
        Assert.Equal(0, cache.LiveObjects);
        Assert.Contains(freeingThreads.Keys, t => t != allocatingThread);
        Assert.Null(cache.Cache.VerifySlabLists());
    }

    [Fact]
    public async Task Memory_over_slab_memory_crosses_awaits_and_goes_back_on_another_thread()
    {
        using var pool = new SlabMemoryPool(null, "async");
        IMemoryOwner<byte>[] owners = [.. Enumerable.Range(0, 32).Select(_ => pool.Rent())];
        for (int i = 0; i < owners.Length; i++)
        {
            owners[i].Memory.Span.Fill((byte)i);
        }

        int[] sums = await Task.WhenAll(owners.Select(async (owner, i) =>
        {
            Memory<byte> memory = owner.Memory;
            await Task.Yield();
            int sum = 0;
            foreach (byte b in memory.Span)
            {
                sum += b;
            }

            owner.Dispose();
            return sum;
        }));

        Assert.Equal(Enumerable.Range(0, 32).Select(static i => i * 4096), sums);
        Assert.Equal(0, pool.RentedBuffers);
    }

    private static unsafe nint Allocate(KmemCache<Payload> cache, int i)
    {
        Payload* obj = cache.Alloc();
        obj->Value = i;
        obj->Check = ~i;
        return (nint)obj;
    }

    private static unsafe bool FreeChecked(KmemCache<Payload> cache, nint obj, int i)
    {
        var payload = (Payload*)obj;
        bool intact = payload->Value == i && payload->Check == ~i;
        cache.Free(payload);
        return intact;
    }

    public struct Payload
    {
        public long Value;
        public long Check;
    }
}
