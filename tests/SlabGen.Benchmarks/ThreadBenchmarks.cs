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

    /// <summary>
    /// Long-lived worker threads that run one action per invocation. The benchmark thread blocks without spinning
    /// while they work: on a 2-core machine a third spinning thread would take a core from the workers.
    /// </summary>
    private sealed class Workers : IDisposable
    {
        private readonly Thread[] _threads;
        private readonly SemaphoreSlim[] _start;
        private readonly ManualResetEventSlim _done = new(false, spinCount: 0);
        private Action<int>? _work;
        private int _running;
        private volatile bool _stop;

        public Workers(int count)
        {
            _start = Enumerable.Range(0, count).Select(static _ => new SemaphoreSlim(0)).ToArray();
            _threads = Enumerable.Range(0, count).Select(i => new Thread(() => Loop(i)) { IsBackground = true }).ToArray();
            Array.ForEach(_threads, static t => t.Start());
        }

        public void Run(int active, Action<int> work)
        {
            _work = work;
            _done.Reset();
            Volatile.Write(ref _running, active);
            for (int i = 0; i < active; i++)
            {
                _start[i].Release();
            }

            _done.Wait();
        }

        public void Dispose()
        {
            _stop = true;
            Array.ForEach(_start, static s => s.Release());
            Array.ForEach(_threads, static t => t.Join());
            Array.ForEach(_start, static s => s.Dispose());
            _done.Dispose();
        }

        private void Loop(int index)
        {
            while (true)
            {
                _start[index].Wait();
                if (_stop)
                {
                    return;
                }

                _work!(index);
                if (Interlocked.Decrement(ref _running) == 0)
                {
                    _done.Set();
                }
            }
        }
    }

    /// <summary>
    /// A single-producer single-consumer ring, spinning when full or empty. Each side keeps its own copy of the other
    /// side's index and reads the shared one only when its copy says full (or empty), so the two cores exchange
    /// cache lines once per lap of free slots, not once per item.
    /// </summary>
    private sealed class SpscRing<T>(int capacity)
        where T : struct
    {
        private readonly T[] _slots = new T[capacity];
        private PaddedLong _head;
        private PaddedLong _tail;
        private PaddedLong _producerCachedHead;
        private PaddedLong _consumerCachedTail;

        public void Push(T value)
        {
            long tail = _tail.Value;
            if (tail - _producerCachedHead.Value == _slots.Length)
            {
                var spin = new SpinWait();
                while (tail - (_producerCachedHead.Value = Volatile.Read(ref _head.Value)) == _slots.Length)
                {
                    spin.SpinOnce(-1);
                }
            }

            _slots[tail % _slots.Length] = value;
            Volatile.Write(ref _tail.Value, tail + 1);
        }

        public T Pop()
        {
            long head = _head.Value;
            if (head == _consumerCachedTail.Value)
            {
                var spin = new SpinWait();
                while (head == (_consumerCachedTail.Value = Volatile.Read(ref _tail.Value)))
                {
                    spin.SpinOnce(-1);
                }
            }

            T value = _slots[head % _slots.Length];
            Volatile.Write(ref _head.Value, head + 1);
            return value;
        }
    }

    /// <summary>A counter on a cache line of its own, so producer and consumer do not share one.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedLong
    {
        [FieldOffset(64)]
        public long Value;
    }
}
