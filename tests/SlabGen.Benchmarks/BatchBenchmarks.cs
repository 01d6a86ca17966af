using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.ObjectPool;

namespace SlabGen.Benchmarks;

/// <summary>
/// 1,000 64-byte objects allocated, then the 1,000 freed, per object: the pattern of a frame that spawns a burst
/// and retires it. Unlike the alloc+free pair, this runs through the array cache's magazine exchanges with the depot
/// (magazines of 120). The single pair of each API is measured beside it, so "a batch costs close to a pair per
/// object" is a ratio within one run; every case also runs under each installed native allocator (NativePeers.cs).
/// </summary>
[MemoryDiagnoser]
[NativePeers]
public unsafe class BatchBenchmarks
{
    private const int Batch = 1_000;
    private readonly SlabRef<SlabPayload64>[] _handles = new SlabRef<SlabPayload64>[Batch];
    private readonly nint[] _pointers = new nint[Batch];
    private readonly PooledPayload[] _objects = new PooledPayload[Batch];
    private KmemCache _cache = null!;
    private DefaultObjectPool<PooledPayload> _pool = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cache = KmemCache.Create("bench-batch-64", 64, 0);
        _pool = new DefaultObjectPool<PooledPayload>(new DefaultPooledObjectPolicy<PooledPayload>(), Batch);
        GeneratedBatch();
        KmemCacheBatch();
        KmallocBatch();
        ObjectPoolBatch();
    }

    [GlobalCleanup]
    public void Cleanup() => _cache.Destroy();

    [Benchmark(Description = "[SlabCache] Alloc+Free pair")]
    public SlabRef<SlabPayload64> GeneratedPair()
    {
        SlabRef<SlabPayload64> obj = SlabPayload64.Alloc();
        SlabPayload64.Free(obj);
        return obj;
    }

    [Benchmark(Description = "KmemCache Alloc+Free pair")]
    public nint KmemCachePair()
    {
        void* obj = _cache.Alloc();
        _cache.Free(obj);
        return (nint)obj;
    }

    [Benchmark(Description = "Kmalloc(64)+Kfree pair")]
    public nint KmallocPair()
    {
        void* obj = Kmem.Kmalloc(64);
        Kmem.Kfree(obj);
        return (nint)obj;
    }

    [Benchmark(Description = "NativeMemory.Alloc+Free pair")]
    public nint NativePair()
    {
        void* obj = NativeMemory.Alloc(64);
        NativeMemory.Free(obj);
        return (nint)obj;
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "[SlabCache] 1000 Alloc, 1000 Free")]
    public void GeneratedBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            _handles[i] = SlabPayload64.Alloc();
        }

        for (int i = 0; i < Batch; i++)
        {
            SlabPayload64.Free(_handles[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "KmemCache 1000 Alloc, 1000 Free")]
    public void KmemCacheBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)_cache.Alloc();
        }

        for (int i = 0; i < Batch; i++)
        {
            _cache.Free((void*)_pointers[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "Kmalloc(64) 1000, Kfree 1000")]
    public void KmallocBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)Kmem.Kmalloc(64);
        }

        for (int i = 0; i < Batch; i++)
        {
            Kmem.Kfree((void*)_pointers[i]);
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch, Description = "NativeMemory.Alloc 1000, Free 1000")]
    public void NativeBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            _pointers[i] = (nint)NativeMemory.Alloc(64);
        }

        for (int i = 0; i < Batch; i++)
        {
            NativeMemory.Free((void*)_pointers[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "ObjectPool<T> 1000 Get, 1000 Return")]
    public void ObjectPoolBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            _objects[i] = _pool.Get();
        }

        for (int i = 0; i < Batch; i++)
        {
            _pool.Return(_objects[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch, Description = "new (class) 1000")]
    public void NewBatch()
    {
        for (int i = 0; i < Batch; i++)
        {
            _objects[i] = new PooledPayload();
        }
    }
}

/// <summary>
/// A working set of 100,000 live 64-byte objects, one random slot replaced per operation (free the old, allocate a
/// new one): allocation and free spread over many slabs and cache lines, as in a long-running server or game world.
/// </summary>
[MemoryDiagnoser]
public unsafe class WorkingSetBenchmarks
{
    private const int Live = 100_000;
    private const int Replacements = 10_000;
    private readonly SlabRef<SlabPayload64>[] _handles = new SlabRef<SlabPayload64>[Live];
    private readonly nint[] _pointers = new nint[Live];
    private readonly nint[] _native = new nint[Live];
    private int[] _slots = null!;

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _slots = Enumerable.Range(0, Replacements).Select(_ => random.Next(Live)).ToArray();
        for (int i = 0; i < Live; i++)
        {
            _handles[i] = SlabPayload64.Alloc();
            _pointers[i] = (nint)Kmem.Kmalloc(64);
            _native[i] = (nint)NativeMemory.Alloc(64);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        for (int i = 0; i < Live; i++)
        {
            SlabPayload64.Free(_handles[i]);
            Kmem.Kfree((void*)_pointers[i]);
            NativeMemory.Free((void*)_native[i]);
        }
    }

    [Benchmark(OperationsPerInvoke = Replacements, Description = "[SlabCache] replace 1 of 100k")]
    public void Generated()
    {
        foreach (int slot in _slots)
        {
            SlabPayload64.Free(_handles[slot]);
            _handles[slot] = SlabPayload64.Alloc();
            _handles[slot].Value.A = slot;
        }
    }

    [Benchmark(OperationsPerInvoke = Replacements, Description = "Kmalloc(64) replace 1 of 100k")]
    public void Kmalloc()
    {
        foreach (int slot in _slots)
        {
            Kmem.Kfree((void*)_pointers[slot]);
            _pointers[slot] = (nint)Kmem.Kmalloc(64);
            *(long*)_pointers[slot] = slot;
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = Replacements, Description = "NativeMemory replace 1 of 100k")]
    public void Native()
    {
        foreach (int slot in _slots)
        {
            NativeMemory.Free((void*)_native[slot]);
            _native[slot] = (nint)NativeMemory.Alloc(64);
            *(long*)_native[slot] = slot;
        }
    }
}
