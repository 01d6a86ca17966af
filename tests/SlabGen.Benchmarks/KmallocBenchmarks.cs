using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace SlabGen.Benchmarks;

/// <summary>kmalloc+kfree of a small and a large size against NativeMemory.Alloc+Free of the same size.</summary>
[MemoryDiagnoser]
public unsafe class KmallocBenchmarks
{
    [Params(64, 100_000)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup() => Kmem.Kfree(Kmem.Kmalloc((nuint)Size));

    [Benchmark(Baseline = true, Description = "NativeMemory.Alloc+Free")]
    public nint NativeAllocFree()
    {
        void* memory = NativeMemory.Alloc((nuint)Size);
        NativeMemory.Free(memory);
        return (nint)memory;
    }

    [Benchmark(Description = "Kmalloc+Kfree")]
    public nint KmallocKfree()
    {
        void* memory = Kmem.Kmalloc((nuint)Size);
        Kmem.Kfree(memory);
        return (nint)memory;
    }
}
