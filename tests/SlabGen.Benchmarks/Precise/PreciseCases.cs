// The cases of the precise mode (PreciseRunner.cs): each runs n operations and returns a value the JIT cannot drop.
// Two call styles for every pair: "loop", n pairs in one method (what a tight loop inlines, with whatever the JIT
// hoists out of it), and "call", n calls of a method that does one pair and is never inlined (as an allocation inside
// a function is: nothing is hoisted across calls). Names are the A/B key between two builds: keep them stable.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen.Benchmarks.Precise;

internal static unsafe class PreciseCases
{
    private const int Batch = 1_000;

    private static readonly KmemCache s_cache = KmemCache.Create("precise-64", 64, 0);
    private static readonly PageAllocator s_pages = new();
    private static readonly nint[] s_pointers = new nint[Batch];
    private static readonly SlabRef<SlabPayload64>[] s_handles = new SlabRef<SlabPayload64>[Batch];

    /// <summary>Every case: its name, what one operation is, and the method that runs n of them.</summary>
    public static readonly (string Name, string Operation, Func<long, nint> Run)[] All =
    [
        ("floor loop", "pair", FloorLoop),
        ("floor call", "pair", FloorCalls),
        ("typed loop", "pair", TypedLoop),
        ("typed call", "pair", TypedCalls),
        ("typed ThisThread loop", "pair", TypedThisThreadLoop),
        ("kmemcache loop", "pair", KmemCacheLoop),
        ("kmemcache call", "pair", KmemCacheCalls),
        ("kmemcache ThisThread loop", "pair", KmemCacheThisThreadLoop),
        ("kmalloc64 loop", "pair", KmallocLoop),
        ("kmalloc64 call", "pair", KmallocCalls),
        ("kmalloc64 ThisThread loop", "pair", KmallocThisThreadLoop),
        ("kmalloc64K loop", "pair", KmallocLargeLoop),
        ("native64 loop", "pair", NativeLoop),
        ("native64 call", "pair", NativeCalls),
        ("typed batch", "object", TypedBatch),
        ("typed ThisThread batch", "object", TypedThisThreadBatch),
        ("kmemcache batch", "object", KmemCacheBatch),
        ("kmalloc64 batch", "object", KmallocBatch),
        ("kmemcache ThisThread batch", "object", KmemCacheThisThreadBatch),
        ("kmalloc64 ThisThread batch", "object", KmallocThisThreadBatch),
        ("native64 batch", "object", NativeBatch),
        ("pool rent+return, new owner", "pair", PoolFreshOwners),
        ("pool rent+return, reused owner", "pair", PoolReusedOwners),
        ("pages 4K", "pair", Pages4K),
        ("aligned 4K", "pair", Aligned4K),
        ("pages 4M", "pair", Pages4M),
        ("aligned 4M", "pair", Aligned4M),
    ];

    /// <summary>How many operations each batch case does per batch: its n is rounded up to whole batches.</summary>
    public static long Batches(long n) => (n + Batch - 1) / Batch;

    private static nint FloorLoop(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            sink ^= ThreadLocalFloor.PopPush();
        }

        return sink;
    }

    private static nint FloorCalls(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            sink ^= FloorOne();
        }

        return sink;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint FloorOne() => ThreadLocalFloor.PopPush();

    private static nint TypedLoop(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            SlabRef<SlabPayload64> obj = SlabPayload64.Alloc();
            SlabPayload64.Free(obj);
            sink ^= (nint)obj.AsPointer();
        }

        return sink;
    }

    private static nint TypedThisThreadLoop(long n)
    {
        SlabThreadCache<SlabPayload64> thread = SlabPayload64.ThisThread;
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            SlabRef<SlabPayload64> obj = thread.Alloc();
            thread.Free(obj);
            sink ^= (nint)obj.AsPointer();
        }

        return sink;
    }

    private static nint TypedCalls(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            sink ^= TypedOne();
        }

        return sink;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint TypedOne()
    {
        SlabRef<SlabPayload64> obj = SlabPayload64.Alloc();
        SlabPayload64.Free(obj);
        return (nint)obj.AsPointer();
    }

    private static nint KmemCacheLoop(long n)
    {
        KmemCache cache = s_cache;
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            void* obj = cache.Alloc();
            cache.Free(obj);
            sink ^= (nint)obj;
        }

        return sink;
    }

    private static nint KmemCacheCalls(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            sink ^= KmemCacheOne();
        }

        return sink;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint KmemCacheOne()
    {
        void* obj = s_cache.Alloc();
        s_cache.Free(obj);
        return (nint)obj;
    }

    private static nint KmallocLoop(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            void* obj = Kmem.Kmalloc(64);
            Kmem.Kfree(obj);
            sink ^= (nint)obj;
        }

        return sink;
    }

    /// <summary>Kmalloc above 8 KiB: a page block of order 4 through the thread's page list, sampling's large gate in front.</summary>
    private static nint KmallocLargeLoop(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            void* obj = Kmem.Kmalloc(65536);
            Kmem.Kfree(obj);
            sink ^= (nint)obj;
        }

        return sink;
    }

    private static nint KmallocCalls(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            sink ^= KmallocOne();
        }

        return sink;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint KmallocOne()
    {
        void* obj = Kmem.Kmalloc(64);
        Kmem.Kfree(obj);
        return (nint)obj;
    }

    private static nint NativeLoop(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            void* obj = NativeMemory.Alloc(64);
            NativeMemory.Free(obj);
            sink ^= (nint)obj;
        }

        return sink;
    }

    private static nint NativeCalls(long n)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            sink ^= NativeOne();
        }

        return sink;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint NativeOne()
    {
        void* obj = NativeMemory.Alloc(64);
        NativeMemory.Free(obj);
        return (nint)obj;
    }

    private static nint TypedBatch(long n)
    {
        SlabRef<SlabPayload64>[] handles = s_handles;
        for (long b = Batches(n); b > 0; b--)
        {
            for (int i = 0; i < handles.Length; i++)
            {
                handles[i] = SlabPayload64.Alloc();
            }

            for (int i = 0; i < handles.Length; i++)
            {
                SlabPayload64.Free(handles[i]);
            }
        }

        return (nint)handles[0].AsPointer();
    }

    private static nint TypedThisThreadBatch(long n)
    {
        SlabThreadCache<SlabPayload64> thread = SlabPayload64.ThisThread;
        SlabRef<SlabPayload64>[] handles = s_handles;
        for (long b = Batches(n); b > 0; b--)
        {
            for (int i = 0; i < handles.Length; i++)
            {
                handles[i] = thread.Alloc();
            }

            for (int i = 0; i < handles.Length; i++)
            {
                thread.Free(handles[i]);
            }
        }

        return (nint)handles[0].AsPointer();
    }

    private static nint KmemCacheBatch(long n)
    {
        KmemCache cache = s_cache;
        nint[] pointers = s_pointers;
        for (long b = Batches(n); b > 0; b--)
        {
            for (int i = 0; i < pointers.Length; i++)
            {
                pointers[i] = (nint)cache.Alloc();
            }

            for (int i = 0; i < pointers.Length; i++)
            {
                cache.Free((void*)pointers[i]);
            }
        }

        return pointers[0];
    }

    private static nint KmallocBatch(long n)
    {
        nint[] pointers = s_pointers;
        for (long b = Batches(n); b > 0; b--)
        {
            for (int i = 0; i < pointers.Length; i++)
            {
                pointers[i] = (nint)Kmem.Kmalloc(64);
            }

            for (int i = 0; i < pointers.Length; i++)
            {
                Kmem.Kfree((void*)pointers[i]);
            }
        }

        return pointers[0];
    }

    private static nint KmallocThisThreadLoop(long n)
    {
        KmallocThreadCache thread = Kmem.ThisThread;
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            void* obj = thread.Kmalloc(64);
            thread.Kfree(obj);
            sink ^= (nint)obj;
        }

        return sink;
    }

    private static nint KmallocThisThreadBatch(long n)
    {
        KmallocThreadCache thread = Kmem.ThisThread;
        nint[] pointers = s_pointers;
        for (long b = Batches(n); b > 0; b--)
        {
            for (int i = 0; i < pointers.Length; i++)
            {
                pointers[i] = (nint)thread.Kmalloc(64);
            }

            for (int i = 0; i < pointers.Length; i++)
            {
                thread.Kfree((void*)pointers[i]);
            }
        }

        return pointers[0];
    }

    private static nint KmemCacheThisThreadLoop(long n)
    {
        KmemCacheThreadCache thread = s_cache.ThisThread();
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            void* obj = thread.Alloc();
            thread.Free(obj);
            sink ^= (nint)obj;
        }

        return sink;
    }

    private static nint KmemCacheThisThreadBatch(long n)
    {
        KmemCacheThreadCache thread = s_cache.ThisThread();
        nint[] pointers = s_pointers;
        for (long b = Batches(n); b > 0; b--)
        {
            for (int i = 0; i < pointers.Length; i++)
            {
                pointers[i] = (nint)thread.Alloc();
            }

            for (int i = 0; i < pointers.Length; i++)
            {
                thread.Free((void*)pointers[i]);
            }
        }

        return pointers[0];
    }

    private static nint NativeBatch(long n)
    {
        nint[] pointers = s_pointers;
        for (long b = Batches(n); b > 0; b--)
        {
            for (int i = 0; i < pointers.Length; i++)
            {
                pointers[i] = (nint)NativeMemory.Alloc(64);
            }

            for (int i = 0; i < pointers.Length; i++)
            {
                NativeMemory.Free((void*)pointers[i]);
            }
        }

        return pointers[0];
    }

    private static readonly SlabMemoryPool s_freshPool = new(null, "precise-fresh");
    private static readonly SlabMemoryPool s_reusingPool = new(null, "precise-reused") { ReuseOwners = true };

    private static nint PoolFreshOwners(long n) => PoolPairs(n, s_freshPool);

    private static nint PoolReusedOwners(long n) => PoolPairs(n, s_reusingPool);

    private static nint PoolPairs(long n, SlabMemoryPool pool)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            System.Buffers.IMemoryOwner<byte> owner = pool.Rent();
            sink ^= owner.Memory.Length;
            owner.Dispose();
        }

        return sink;
    }

    private static nint Pages4K(long n) => PagePairs(n, 0);

    private static nint Pages4M(long n) => PagePairs(n, PageAllocator.MaxOrder);

    private static nint PagePairs(long n, int order)
    {
        PageAllocator pages = s_pages;
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            void* block = pages.AllocPages(order);
            pages.FreePages(block, order);
            sink ^= (nint)block;
        }

        return sink;
    }

    private static nint Aligned4K(long n) => AlignedPairs(n, PageAllocator.PageSize);

    private static nint Aligned4M(long n) => AlignedPairs(n, (nuint)PageAllocator.PageSize << PageAllocator.MaxOrder);

    private static nint AlignedPairs(long n, nuint bytes)
    {
        nint sink = 0;
        for (long i = 0; i < n; i++)
        {
            void* block = NativeMemory.AlignedAlloc(bytes, bytes);
            NativeMemory.AlignedFree(block);
            sink ^= (nint)block;
        }

        return sink;
    }
}
