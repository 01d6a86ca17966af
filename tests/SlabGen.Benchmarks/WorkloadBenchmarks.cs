// Workloads of mimalloc-bench (its bench/ folder: larson, xmalloc-test, cache-scratch, glibc-bench's simple test)
// and a mixed-size churn, ported onto Kmalloc/Kfree and onto NativeMemory.Alloc/Free. Every case runs on 1 and on 2
// threads and, through NativePeers, under every installed native allocator, so "Kmalloc against mimalloc" is two
// cases of one job (one process kind). Times are per operation over all threads (an operation is one replacement,
// one object allocated and freed, or one object allocated, written and freed): 1 thread ÷ 2 threads is the scaling.
// The memory each workload holds is measured apart, in child processes (MemoryPeers.cs).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace SlabGen.Benchmarks;

/// <summary>The allocation calls a workload runs on: Kmalloc or NativeMemory, chosen at JIT time (no virtual call).</summary>
internal unsafe interface IWorkloadAllocator
{
    static abstract void* Alloc(nuint size);

    static abstract void Free(void* memory);
}

/// <summary>SlabGen's kmalloc family.</summary>
internal readonly unsafe struct KmallocCalls : IWorkloadAllocator
{
    public static void* Alloc(nuint size) => Kmem.Kmalloc(size);

    public static void Free(void* memory) => Kmem.Kfree(memory);
}

/// <summary>The process's native allocator: glibc, or the peer LD_PRELOAD put in its place.</summary>
internal readonly unsafe struct NativeCalls : IWorkloadAllocator
{
    public static void* Alloc(nuint size) => NativeMemory.Alloc(size);

    public static void Free(void* memory) => NativeMemory.Free(memory);
}

[MemoryDiagnoser]
[NativePeers]
public unsafe class WorkloadBenchmarks
{
    /// <summary>Larson: live objects per thread, replacements per thread per invocation, sizes 8..1,000 bytes.</summary>
    internal const int LarsonSlots = 2_000, LarsonOps = 40_000, LarsonMin = 8, LarsonMax = 1_000;

    /// <summary>xmalloc-test: objects per invocation, handed over in batches of 256; sizes 8..256 bytes.</summary>
    private const int XmallocObjects = 51_200, XmallocBatch = 256, XmallocBatches = 8;

    /// <summary>cache-scratch: objects per thread per invocation, each written this many times while live.</summary>
    private const int ScratchObjects = 4_000, ScratchWrites = 50;

    /// <summary>glibc-simple: blocks per size, and the sizes, allocated then freed in order.</summary>
    private const int SimpleBlocks = 1_000;

    /// <summary>Mixed churn: live objects per thread and replacements per invocation, over MemoryGoals' six sizes.</summary>
    internal const int ChurnSlots = 5_000, ChurnOps = 40_000;

    private static readonly int[] SimpleSizes = [16, 32, 64, 128, 256];

    private readonly Workers _workers = new(2);
    private readonly Replacements[] _larson = new Replacements[2];
    private readonly Replacements[] _churn = new Replacements[2];
    private readonly nint[][] _simple = [new nint[SimpleBlocks], new nint[SimpleBlocks]];
    private readonly nint[] _scratchHanded = new nint[2];
    private readonly nint[][] _xmallocBatches = Enumerable.Range(0, XmallocBatches).Select(static _ => new nint[XmallocBatch]).ToArray();
    private nuint[] _xmallocSizes = null!;
    private SpscRing<int> _full = null!;
    private SpscRing<int> _empty = null!;
    private bool _native;

    /// <summary>The threads the workload runs on.</summary>
    [Params(1, 2)]
    public int Threads { get; set; }

    [GlobalSetup(Targets = [nameof(LarsonKmalloc), nameof(XmallocKmalloc), nameof(ScratchKmalloc), nameof(SimpleKmalloc), nameof(ChurnKmalloc)])]
    public void SetupKmalloc() => Setup(native: false);

    [GlobalSetup(Targets = [nameof(LarsonNative), nameof(XmallocNative), nameof(ScratchNative), nameof(SimpleNative), nameof(ChurnNative)])]
    public void SetupNative() => Setup(native: true);

    [GlobalCleanup]
    public void Cleanup()
    {
        foreach (Replacements? set in _larson.Concat(_churn))
        {
            set?.FreeAll(_native);
        }

        _workers.Dispose();
    }

    [Benchmark(OperationsPerInvoke = LarsonOps, Description = "larson, Kmalloc")]
    public void LarsonKmalloc() => RunReplacements<KmallocCalls>(_larson, rotate: true);

    [Benchmark(OperationsPerInvoke = LarsonOps, Description = "larson, NativeMemory")]
    public void LarsonNative() => RunReplacements<NativeCalls>(_larson, rotate: true);

    [Benchmark(OperationsPerInvoke = XmallocObjects, Description = "xmalloc-test, Kmalloc")]
    public void XmallocKmalloc() => RunXmalloc<KmallocCalls>();

    [Benchmark(OperationsPerInvoke = XmallocObjects, Description = "xmalloc-test, NativeMemory")]
    public void XmallocNative() => RunXmalloc<NativeCalls>();

    [Benchmark(OperationsPerInvoke = ScratchObjects, Description = "cache-scratch, Kmalloc")]
    public long ScratchKmalloc() => RunScratch<KmallocCalls>();

    [Benchmark(OperationsPerInvoke = ScratchObjects, Description = "cache-scratch, NativeMemory")]
    public long ScratchNative() => RunScratch<NativeCalls>();

    [Benchmark(OperationsPerInvoke = SimpleBlocks * 5, Description = "glibc-simple, Kmalloc")]
    public void SimpleKmalloc() => RunSimple<KmallocCalls>();

    [Benchmark(OperationsPerInvoke = SimpleBlocks * 5, Description = "glibc-simple, NativeMemory")]
    public void SimpleNative() => RunSimple<NativeCalls>();

    [Benchmark(OperationsPerInvoke = ChurnOps, Description = "mixed churn, Kmalloc")]
    public void ChurnKmalloc() => RunReplacements<KmallocCalls>(_churn, rotate: false);

    [Benchmark(OperationsPerInvoke = ChurnOps, Description = "mixed churn, NativeMemory")]
    public void ChurnNative() => RunReplacements<NativeCalls>(_churn, rotate: false);

    private void Setup(bool native)
    {
        _native = native;
        for (int t = 0; t < 2; t++)
        {
            _larson[t] = Replacements.Larson(new Random(4141 + t), LarsonSlots, LarsonOps, native);
            _churn[t] = Replacements.Churn(new Random(2026 + t), ChurnSlots, ChurnOps, native);
        }

        var random = new Random(64);
        _xmallocSizes = Enumerable.Range(0, XmallocObjects).Select(_ => (nuint)random.Next(8, 257)).ToArray();
        _full = new SpscRing<int>(XmallocBatches);
        _empty = new SpscRing<int>(XmallocBatches);
        for (int i = 0; i < XmallocBatches; i++)
        {
            _empty.Push(i);
        }
    }

    /// <summary>
    /// Larson and the churn: each thread frees a random live object and allocates one of a random size in its place.
    /// With <paramref name="rotate"/> the threads trade their sets after every invocation (larson's threads hand
    /// their objects to the next round's threads), so on 2 threads every other invocation frees the other's objects.
    /// Each thread's share of the operations is its half on 2 threads, all of them on 1.
    /// </summary>
    private void RunReplacements<TAlloc>(Replacements[] sets, bool rotate)
        where TAlloc : IWorkloadAllocator
    {
        int threads = Threads;
        _workers.Run(threads, worker => Replace<TAlloc>(sets[worker], worker * (sets[worker].Victims.Length / threads), sets[worker].Victims.Length / threads));
        if (rotate && threads == 2)
        {
            (sets[0].Live, sets[1].Live) = (sets[1].Live, sets[0].Live);
        }
    }

    private static void Replace<TAlloc>(Replacements set, int first, int count)
        where TAlloc : IWorkloadAllocator
    {
        nint[] live = set.Live;
        int[] victims = set.Victims;
        nuint[] sizes = set.Sizes;
        for (int i = first; i < first + count; i++)
        {
            int slot = victims[i];
            TAlloc.Free((void*)live[slot]);
            byte* obj = (byte*)TAlloc.Alloc(sizes[i]);
            *obj = (byte)i;
            live[slot] = (nint)obj;
        }
    }

    /// <summary>
    /// xmalloc-test: objects of random sizes allocated by one thread and freed by another, in batches through a
    /// ring; on 1 thread the same thread frees each batch after filling it.
    /// </summary>
    private void RunXmalloc<TAlloc>()
        where TAlloc : IWorkloadAllocator
    {
        if (Threads == 1)
        {
            _workers.Run(1, _ =>
            {
                nint[] batch = _xmallocBatches[0];
                for (int n = 0; n < XmallocObjects; n += XmallocBatch)
                {
                    Fill<TAlloc>(batch, n);
                    Drain<TAlloc>(batch);
                }
            });
            return;
        }

        _workers.Run(2, worker =>
        {
            for (int n = 0; n < XmallocObjects; n += XmallocBatch)
            {
                if (worker == 0)
                {
                    int index = _empty.Pop();
                    Fill<TAlloc>(_xmallocBatches[index], n);
                    _full.Push(index);
                }
                else
                {
                    int index = _full.Pop();
                    Drain<TAlloc>(_xmallocBatches[index]);
                    _empty.Push(index);
                }
            }
        });
    }

    private void Fill<TAlloc>(nint[] batch, int first)
        where TAlloc : IWorkloadAllocator
    {
        for (int i = 0; i < batch.Length; i++)
        {
            byte* obj = (byte*)TAlloc.Alloc(_xmallocSizes[first + i]);
            *obj = (byte)i;
            batch[i] = (nint)obj;
        }
    }

    private static void Drain<TAlloc>(nint[] batch)
        where TAlloc : IWorkloadAllocator
    {
        foreach (nint obj in batch)
        {
            TAlloc.Free((void*)obj);
        }
    }

    /// <summary>
    /// cache-scratch (passive false sharing): this thread allocates one 8-byte object per worker, side by side, and
    /// each worker frees its own, then allocates, writes and frees 8-byte objects of its own. An allocator that hands
    /// a worker the neighbour's freed object puts both workers' writes on one cache line.
    /// </summary>
    private long RunScratch<TAlloc>()
        where TAlloc : IWorkloadAllocator
    {
        int threads = Threads;
        for (int w = 0; w < threads; w++)
        {
            _scratchHanded[w] = (nint)TAlloc.Alloc(8);
        }

        long sum = 0;
        _workers.Run(threads, worker =>
        {
            TAlloc.Free((void*)_scratchHanded[worker]);
            long local = 0;
            for (int i = 0; i < ScratchObjects / threads; i++)
            {
                long* obj = (long*)TAlloc.Alloc(8);
                Volatile.Write(ref *obj, i);
                for (int j = 0; j < ScratchWrites; j++)
                {
                    Volatile.Write(ref *obj, Volatile.Read(ref *obj) + j);
                }

                local += *obj;
                TAlloc.Free(obj);
            }

            Interlocked.Add(ref sum, local);
        });
        return sum;
    }

    /// <summary>glibc-simple: per size, 1,000 blocks allocated, then freed in the order they came.</summary>
    private void RunSimple<TAlloc>()
        where TAlloc : IWorkloadAllocator
    {
        int threads = Threads;
        _workers.Run(threads, worker =>
        {
            nint[] blocks = _simple[worker];
            foreach (int size in SimpleSizes)
            {
                for (int i = 0; i < blocks.Length / threads; i++)
                {
                    blocks[i] = (nint)TAlloc.Alloc((nuint)size);
                }

                for (int i = 0; i < blocks.Length / threads; i++)
                {
                    TAlloc.Free((void*)blocks[i]);
                }
            }
        });
    }

    /// <summary>A thread's live set and its precomputed replacements (which slot, what size), from a fixed seed.</summary>
    internal sealed class Replacements
    {
        public required nint[] Live { get; set; }

        public required int[] Victims { get; init; }

        public required nuint[] Sizes { get; init; }

        /// <summary>Larson's set: sizes uniform in 8..1,000 bytes.</summary>
        public static Replacements Larson(Random random, int slots, int ops, bool native) =>
            Create(random, slots, ops, r => (nuint)r.Next(LarsonMin, LarsonMax + 1), native);

        /// <summary>The churn's set: sizes from MemoryGoals' six.</summary>
        public static Replacements Churn(Random random, int slots, int ops, bool native) =>
            Create(random, slots, ops, r => (nuint)MixedWorkload.Sizes[r.Next(MixedWorkload.Sizes.Length)], native);

        public void FreeAll(bool native)
        {
            foreach (nint obj in Live)
            {
                Free((void*)obj, native);
            }

            Live = [];
        }

        private static Replacements Create(Random random, int slots, int ops, Func<Random, nuint> size, bool native)
        {
            var live = new nint[slots];
            for (int i = 0; i < slots; i++)
            {
                live[i] = (nint)Alloc(size(random), native);
            }

            return new Replacements
            {
                Live = live,
                Victims = Enumerable.Range(0, ops).Select(_ => random.Next(slots)).ToArray(),
                Sizes = Enumerable.Range(0, ops).Select(_ => size(random)).ToArray(),
            };
        }

        [MethodImpl(MethodImplOptions.NoInlining)]
        private static void* Alloc(nuint size, bool native) => native ? NativeCalls.Alloc(size) : KmallocCalls.Alloc(size);

        private static void Free(void* obj, bool native)
        {
            if (native)
            {
                NativeCalls.Free(obj);
            }
            else
            {
                KmallocCalls.Free(obj);
            }
        }
    }
}
