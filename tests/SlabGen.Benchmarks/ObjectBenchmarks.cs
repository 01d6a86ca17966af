using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.ObjectPool;

namespace SlabGen.Benchmarks;

/// <summary>
/// A 64-byte object allocated and freed on one thread, by SlabGen, by every .NET peer and by the thread-local floor.
/// Always run in 3 processes (Program.cs): the floor is bimodal between processes, so its goals take the median of
/// the per-process ratios.
/// </summary>
[MemoryDiagnoser]
public unsafe class ObjectBenchmarks
{
    private KmemCache _cache = null!;
    private KmemCache<Payload64> _typed = null!;
    private DefaultObjectPool<PooledPayload> _pool = null!;

    [GlobalSetup]
    public void Setup()
    {
        _cache = KmemCache.Create("bench-64", 64, 0);
        _typed = KmemCache<Payload64>.Create("bench-payload64");
        _pool = new DefaultObjectPool<PooledPayload>(new DefaultPooledObjectPolicy<PooledPayload>());
        _cache.Free(_cache.Alloc());
        _typed.Free(_typed.Alloc());
        SlabPayload64.Free(SlabPayload64.Alloc());
        Kmem.Kfree(Kmem.Kmalloc(64));
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _cache.Destroy();
        _typed.Destroy();
    }

    [Benchmark(Description = "KmemCache.Alloc+Free")]
    public nint KmemCacheAllocFree()
    {
        void* obj = _cache.Alloc();
        _cache.Free(obj);
        return (nint)obj;
    }

    [Benchmark(Description = "KmemCache<T>.Alloc+Free")]
    public nint TypedCacheAllocFree()
    {
        Payload64* obj = _typed.Alloc();
        _typed.Free(obj);
        return (nint)obj;
    }

    [Benchmark(Description = "[SlabCache] Alloc+Free")]
    public SlabRef<SlabPayload64> GeneratedAllocFree()
    {
        SlabRef<SlabPayload64> obj = SlabPayload64.Alloc();
        SlabPayload64.Free(obj);
        return obj;
    }

    [Benchmark(Description = "Kmalloc(64)+Kfree")]
    public nint KmallocKfree()
    {
        void* obj = Kmem.Kmalloc(64);
        Kmem.Kfree(obj);
        return (nint)obj;
    }

    [Benchmark(Baseline = true, Description = "[ThreadStatic] free list pop+push")]
    public nint ThreadStaticFreeList() => ThreadLocalFloor.PopPush();

    [Benchmark(Description = "NativeMemory.Alloc+Free")]
    public nint NativeAllocFree()
    {
        void* obj = NativeMemory.Alloc(64);
        NativeMemory.Free(obj);
        return (nint)obj;
    }

    [Benchmark(Description = "ObjectPool<T>.Get+Return")]
    public object ObjectPoolGetReturn()
    {
        PooledPayload obj = _pool.Get();
        _pool.Return(obj);
        return obj;
    }

    [Benchmark(Description = "ArrayPool<byte>.Shared.Rent+Return")]
    public object ArrayPoolRentReturn()
    {
        byte[] array = ArrayPool<byte>.Shared.Rent(64);
        ArrayPool<byte>.Shared.Return(array);
        return array;
    }

    [Benchmark(Description = "new (class, 64 bytes)")]
    public object NewObject() => new PooledPayload();
}

/// <summary>A 64-byte struct.</summary>
public struct Payload64
{
    /// <summary>Eight words.</summary>
    public long A, B, C, D, E, F, G, H;
}

/// <summary>A 64-byte struct with a generated cache.</summary>
[SlabCache(Name = "bench-slab-payload64")]
public partial struct SlabPayload64
{
    /// <summary>Eight words.</summary>
    public long A, B, C, D, E, F, G, H;
}

/// <summary>A class with 64 bytes of fields, for the managed peers.</summary>
public sealed class PooledPayload
{
    /// <summary>Eight words.</summary>
    public long A, B, C, D, E, F, G, H;
}
