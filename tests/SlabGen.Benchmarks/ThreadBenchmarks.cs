using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace SlabGen.Benchmarks;

/// <summary>
/// Alloc+free pairs of 64-byte objects on 1 and 2 threads (this machine has 2 cores): same-thread frees, and
/// producer→consumer, where one thread allocates batches of 256 and the other frees them, handed over through a
/// ring of batch numbers. Times are per pair over all
/// threads, so "1 thread" ÷ "2 threads" is the scaling factor. Workers are started once per run and signalled per
/// invocation; each does 200,000 pairs per invocation, so the signalling costs under 1%.
/// </summary>
[MemoryDiagnoser]
public unsafe class ThreadBenchmarks
{
    private const int PairsPerThread = 200_000;

    /// <summary>Objects handed from producer to consumer at once, so the hand-off costs little per object.</summary>
    private const int BatchSize = 256;

    /// <summary>Batches in flight: the producer fills one while the consumer frees another.</summary>
    private const int Batches = 8;

    private readonly Workers _workers = new(2);
    private readonly SlabRef<SlabPayload64>[][] _handleBatches = Enumerable.Range(0, Batches).Select(static _ => new SlabRef<SlabPayload64>[BatchSize]).ToArray();
    private readonly nint[][] _pointerBatches = Enumerable.Range(0, Batches).Select(static _ => new nint[BatchSize]).ToArray();
    private SpscRing<int> _full = null!;
    private SpscRing<int> _empty = null!;

    [GlobalSetup]
    public void Setup()
    {
        _full = new SpscRing<int>(Batches);
        _empty = new SpscRing<int>(Batches);
        for (int i = 0; i < Batches; i++)
        {
            _empty.Push(i);
        }
        SlabPayload64.Free(SlabPayload64.Alloc());
    }

    [GlobalCleanup]
    public void Cleanup() => _workers.Dispose();

    [Benchmark(Baseline = true, OperationsPerInvoke = PairsPerThread, Description = "[SlabCache] pairs, 1 thread")]
    public void GeneratedOneThread() => _workers.Run(1, static _ => GeneratedPairs());

    [Benchmark(OperationsPerInvoke = 2 * PairsPerThread, Description = "[SlabCache] pairs, 2 threads")]
    public void GeneratedTwoThreads() => _workers.Run(2, static _ => GeneratedPairs());

    [Benchmark(OperationsPerInvoke = PairsPerThread, Description = "[SlabCache] producer→consumer, 2 threads")]
    public void GeneratedCrossThread() => _workers.Run(2, worker =>
    {
        for (int n = 0; n < PairsPerThread / BatchSize; n++)
        {
            if (worker == 0)
            {
                int index = _empty.Pop();
                SlabRef<SlabPayload64>[] batch = _handleBatches[index];
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = SlabPayload64.Alloc();
                }

                _full.Push(index);
            }
            else
            {
                int index = _full.Pop();
                foreach (SlabRef<SlabPayload64> handle in _handleBatches[index])
                {
                    SlabPayload64.Free(handle);
                }

                _empty.Push(index);
            }
        }
    });

    /// <summary>
    /// The producer→consumer hand-off alone, with no allocator: the producer fills the same handle batches with a
    /// value and the consumer reads them. What the cross-thread cases cost beyond this is the allocator's.
    /// </summary>
    [Benchmark(OperationsPerInvoke = PairsPerThread, Description = "hand-off only (no allocation), 2 threads")]
    public long HandOffOnly()
    {
        long sum = 0;
        _workers.Run(2, worker =>
        {
            for (int n = 0; n < PairsPerThread / BatchSize; n++)
            {
                if (worker == 0)
                {
                    int index = _empty.Pop();
                    SlabRef<SlabPayload64>[] batch = _handleBatches[index];
                    for (int i = 0; i < batch.Length; i++)
                    {
                        batch[i] = default;
                    }

                    _full.Push(index);
                }
                else
                {
                    int index = _full.Pop();
                    foreach (SlabRef<SlabPayload64> handle in _handleBatches[index])
                    {
                        sum += handle.IsNull ? 1 : 0;
                    }

                    _empty.Push(index);
                }
            }
        });
        return sum;
    }

    [Benchmark(OperationsPerInvoke = PairsPerThread, Description = "NativeMemory pairs, 1 thread")]
    public void NativeOneThread() => _workers.Run(1, static _ => NativePairs());

    [Benchmark(OperationsPerInvoke = 2 * PairsPerThread, Description = "NativeMemory pairs, 2 threads")]
    public void NativeTwoThreads() => _workers.Run(2, static _ => NativePairs());

    [Benchmark(OperationsPerInvoke = PairsPerThread, Description = "NativeMemory producer→consumer, 2 threads")]
    public void NativeCrossThread() => _workers.Run(2, worker =>
    {
        for (int n = 0; n < PairsPerThread / BatchSize; n++)
        {
            if (worker == 0)
            {
                int index = _empty.Pop();
                nint[] batch = _pointerBatches[index];
                for (int i = 0; i < batch.Length; i++)
                {
                    batch[i] = (nint)NativeMemory.Alloc(64);
                }

                _full.Push(index);
            }
            else
            {
                int index = _full.Pop();
                foreach (nint pointer in _pointerBatches[index])
                {
                    NativeMemory.Free((void*)pointer);
                }

                _empty.Push(index);
            }
        }
    });

    private static void GeneratedPairs()
    {
        for (int i = 0; i < PairsPerThread; i++)
        {
            SlabPayload64.Free(SlabPayload64.Alloc());
        }
    }

    private static void NativePairs()
    {
        for (int i = 0; i < PairsPerThread; i++)
        {
            NativeMemory.Free(NativeMemory.Alloc(64));
        }
    }
}
