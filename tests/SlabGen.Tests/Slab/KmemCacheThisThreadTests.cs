// cache.ThisThread(), the thread's handle for hot loops: the cache's objects, checks and exceptions without the per-call
// lookups, on one thread or across two, through drains, on debug and destroyed caches.
using System.Runtime.InteropServices;

namespace SlabGen.Tests.Slab;

public sealed unsafe class KmemCacheThisThreadTests : IDisposable
{
    private readonly PageAllocator _pages = new();

    public void Dispose() => _pages.Dispose();

    private KmemCache NewCache(string name, nuint size = 64, SlabFlags flags = SlabFlags.None) => KmemCache.Create(name, size, 0, flags, _pages);

    [Fact]
    public void Objects_of_the_handle_and_of_the_cache_are_one_set_and_free_through_either()
    {
        using KmemCache cache = NewCache("handle-plain");
        KmemCacheThreadCache thread = cache.ThisThread();
        Assert.Same(cache, thread.Cache);

        var objects = new nint[500];
        for (int i = 0; i < objects.Length; i++)
        {
            objects[i] = (nint)(i % 2 == 0 ? thread.Alloc() : cache.Alloc());
            *(long*)objects[i] = i;
        }

        Assert.Equal(objects.Length, objects.Distinct().Count());
        Assert.Equal(objects.Length, cache.LiveObjects);
        for (int i = 0; i < objects.Length; i++)
        {
            Assert.Equal(i, *(long*)objects[i]);
            if (i % 3 == 0)
            {
                cache.Free((void*)objects[i]);
            }
            else
            {
                thread.Free((void*)objects[i]);
            }
        }

        Assert.Equal(0, cache.LiveObjects);
        Assert.Null(cache.VerifySlabLists());
    }

    [Fact]
    public void Misuse_through_the_handle_is_refused_with_the_caches_message_and_changes_nothing()
    {
        using KmemCache cache = NewCache("handle-misuse");
        using KmemCache other = NewCache("handle-other");
        KmemCacheThreadCache thread = cache.ThisThread();
        byte* mine = (byte*)thread.Alloc();
        void* theirs = other.Alloc();
        void* foreign = NativeMemory.Alloc(64);
        try
        {
            Assert.Contains("wrong cache: the object belongs to cache 'handle-other'", Assert.Throws<ArgumentException>(() => cache.ThisThread().Free(theirs)).Message);
            Assert.Contains("interior pointer", Assert.Throws<ArgumentException>(() => cache.ThisThread().Free(mine + 8)).Message);
            Assert.Contains("foreign pointer", Assert.Throws<ArgumentException>(() => cache.ThisThread().Free(foreign)).Message);
            Assert.Equal(1, cache.LiveObjects);

            thread.Free(mine);
            Assert.Contains("double free", Assert.Throws<ArgumentException>(() => cache.ThisThread().Free(mine)).Message);
            Assert.Equal(0, cache.LiveObjects);
            thread.Free(null);

            void* a = thread.Alloc();
            void* b = thread.Alloc();
            Assert.True(a != b);
            thread.Free(a);
            thread.Free(b);
            Assert.Equal(0, cache.LiveObjects);
        }
        finally
        {
            other.Free(theirs);
            NativeMemory.Free(foreign);
        }
    }

    [Fact]
    public void A_debug_caches_handle_takes_the_checked_path_every_time()
    {
        using KmemCache cache = NewCache("handle-zoned", 40, SlabFlags.RedZone | SlabFlags.Poison);
        KmemCacheThreadCache thread = cache.ThisThread();
        byte* obj = (byte*)thread.Alloc();
        obj[40] = 0; // one byte past the end
        var e = Assert.Throws<InvalidOperationException>(() => cache.ThisThread().Free(obj));
        Assert.Contains("red zone overwritten", e.Message);
        Assert.Equal(0, cache.LiveObjects);

        byte* again = (byte*)thread.Alloc();
        Assert.True(again != null);
        thread.Free(again);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => cache.ThisThread().Free(again)).Message);
    }

    [Fact]
    public void A_handle_on_a_destroyed_cache_says_so_and_a_default_handle_says_how_to_take_one()
    {
        KmemCache cache = NewCache("handle-destroyed");
        KmemCacheThreadCache thread = cache.ThisThread();
        thread.Free(thread.Alloc()); // one object parked on the thread's stack
        cache.Destroy();

        Assert.Throws<ObjectDisposedException>(() => cache.ThisThread());
        try
        {
            thread.Alloc();
            Assert.Fail("a destroyed cache's handle allocated");
        }
        catch (ObjectDisposedException)
        {
        }

        Assert.Contains("cache.ThisThread()", Assert.Throws<InvalidOperationException>(() => default(KmemCacheThreadCache).Alloc()).Message);
        Assert.Throws<InvalidOperationException>(() => default(KmemCacheThreadCache).Free(null));

        using KmemCache next = NewCache("handle-after"); // may take the destroyed cache's id
        KmemCacheThreadCache fresh = next.ThisThread();
        void* obj = fresh.Alloc();
        fresh.Free(obj);
        Assert.Equal(0, next.LiveObjects);
    }

    [Fact]
    public void Two_threads_trade_objects_through_their_handles_with_contents_intact()
    {
        using KmemCache cache = NewCache("handle-trade");
        using var toB = new System.Collections.Concurrent.BlockingCollection<nint>(256);
        using var toA = new System.Collections.Concurrent.BlockingCollection<nint>(256);
        long bad = 0;

        void Run(System.Collections.Concurrent.BlockingCollection<nint> send, System.Collections.Concurrent.BlockingCollection<nint> receive, long seed)
        {
            KmemCacheThreadCache thread = cache.ThisThread();
            for (long i = 0; i < 20_000; i++)
            {
                var obj = (long*)thread.Alloc();
                obj[0] = seed + i;
                obj[1] = ~(seed + i);
                send.Add((nint)obj);
                if (receive.TryTake(out nint theirs, 1000))
                {
                    Check(thread, theirs, ref bad);
                }
            }

            send.CompleteAdding();
            foreach (nint theirs in receive.GetConsumingEnumerable())
            {
                Check(thread, theirs, ref bad);
            }
        }

        var a = new Thread(() => Run(toB, toA, 1_000_000));
        var b = new Thread(() => Run(toA, toB, 9_000_000));
        a.Start();
        b.Start();
        Assert.True(a.Join(TimeSpan.FromSeconds(30)) && b.Join(TimeSpan.FromSeconds(30)), "the exchange did not finish");
        Assert.Equal(0, Interlocked.Read(ref bad));
        Assert.Equal(0, cache.LiveObjects);
        Assert.Null(cache.VerifySlabLists());
    }

    private static void Check(KmemCacheThreadCache thread, nint theirs, ref long bad)
    {
        var obj = (long*)theirs;
        if (obj[1] != ~obj[0])
        {
            Interlocked.Increment(ref bad);
        }

        thread.Free(obj);
    }

    [Fact]
    public void A_drain_while_the_handle_is_held_loses_and_duplicates_nothing_and_pairs_allocate_no_managed_memory()
    {
        using KmemCache cache = NewCache("handle-drain");
        KmemCacheThreadCache thread = cache.ThisThread();
        var parked = new nint[300];
        for (int i = 0; i < parked.Length; i++)
        {
            parked[i] = (nint)thread.Alloc();
        }

        foreach (nint obj in parked)
        {
            thread.Free((void*)obj);
        }

        var drainer = new Thread(() => cache.Shrink());
        drainer.Start();
        Assert.True(drainer.Join(TimeSpan.FromSeconds(10)));

        var after = new nint[600];
        for (int i = 0; i < after.Length; i++)
        {
            after[i] = (nint)thread.Alloc();
        }

        Assert.Equal(after.Length, after.Distinct().Count());
        Assert.Equal(after.Length, cache.LiveObjects);
        foreach (nint obj in after)
        {
            thread.Free((void*)obj);
        }

        // A memory-pressure trim (after a gen-2 collection other tests cause) may drain this thread in between, and the
        // refill's slow path may allocate: the steady state is a round that no drain hit.
        long fewest = long.MaxValue;
        for (int round = 0; round < 3 && fewest != 0; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 10_000; i++)
            {
                thread.Free(thread.Alloc());
            }

            fewest = Math.Min(fewest, GC.GetAllocatedBytesForCurrentThread() - before);
        }

        Assert.Equal(0, fewest);
        Assert.Equal(0, cache.LiveObjects);
    }

    [Fact]
    public void In_interrupt_context_the_handle_refuses_flags_that_may_sleep_and_serves_atomic_ones()
    {
        using KmemCache cache = NewCache("handle-irq");
        KmemCacheThreadCache thread = cache.ThisThread();
        thread.Free(thread.Alloc());
        using (InterruptContext.Enter())
        {
            var e = Assert.Throws<InvalidOperationException>(() => cache.ThisThread().Alloc());
            Assert.Contains("sleeping function called from invalid context", e.Message);
            void* obj = thread.Alloc(GfpFlags.Atomic);
            Assert.True(obj != null);
            thread.Free(obj);
        }
    }
}
