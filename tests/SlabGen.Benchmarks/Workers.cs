// The threads and the hand-off ring the multi-threaded cases share (ThreadBenchmarks, WorkloadBenchmarks).
using System.Runtime.InteropServices;

namespace SlabGen.Benchmarks;

/// <summary>
/// Long-lived worker threads that run one action per invocation. The benchmark thread blocks without spinning
/// while they work: on a 2-core machine a third spinning thread would take a core from the workers.
/// </summary>
internal sealed class Workers : IDisposable
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
internal sealed class SpscRing<T>(int capacity)
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
internal struct PaddedLong
{
    [FieldOffset(64)]
    public long Value;
}
