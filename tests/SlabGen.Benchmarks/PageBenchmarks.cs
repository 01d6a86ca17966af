using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace SlabGen.Benchmarks;

/// <summary>
/// One block allocated and freed, against the aligned native allocation of the same size and alignment, under every
/// installed native allocator (NativePeers.cs).
/// </summary>
[MemoryDiagnoser]
[NativePeers]
public unsafe class PageBenchmarks
{
    private PageAllocator _pages = null!;

    [Params(0, 3, 10)]
    public int Order { get; set; }

    private nuint Bytes => (nuint)PageAllocator.PageSize << Order;

    [GlobalSetup]
    public void Setup()
    {
        _pages = new PageAllocator();
        _pages.FreePages(_pages.AllocPages(Order), Order);
    }

    [GlobalCleanup]
    public void Cleanup() => _pages.Dispose();

    [Benchmark(Baseline = true, Description = "NativeMemory.AlignedAlloc+AlignedFree")]
    public nint NativeAlignedAlloc()
    {
        void* block = NativeMemory.AlignedAlloc(Bytes, Bytes);
        NativeMemory.AlignedFree(block);
        return (nint)block;
    }

    [Benchmark(Description = "AllocPages+FreePages")]
    public nint AllocPagesFreePages()
    {
        void* block = _pages.AllocPages(Order);
        _pages.FreePages(block, Order);
        return (nint)block;
    }
}
