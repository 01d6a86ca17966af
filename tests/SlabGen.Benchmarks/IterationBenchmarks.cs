using System.Numerics;
using System.Runtime.InteropServices;
using BenchmarkDotNet.Attributes;

namespace SlabGen.Benchmarks;

/// <summary>
/// A frame's update of 100,000 live particles (position += velocity, life -= 1): in place through the cache's
/// enumeration (<c>foreach (ref BenchParticle p in BenchParticle.Cache)</c>), against the same structs in a <c>T[]</c>
/// by reference, a <c>List&lt;T&gt;</c> through its indexer (copy out, copy back) and through
/// <c>CollectionsMarshal.AsSpan</c>, and the array of handles users kept beside the cache before enumeration existed.
/// Per particle; no native allocation, so no peers.
/// </summary>
[MemoryDiagnoser]
public class IterationBenchmarks
{
    private const int Count = 100_000;
    private readonly BenchParticle[] _array = new BenchParticle[Count];
    private readonly List<BenchParticle> _list = new(Count);
    private readonly SlabRef<BenchParticle>[] _handles = new SlabRef<BenchParticle>[Count];

    [GlobalSetup]
    public void Setup()
    {
        BenchParticle.Cache.Reset();
        for (int i = 0; i < Count; i++)
        {
            var p = new BenchParticle(new Vector3(i, 1, 2), 1_000_000);
            _array[i] = p;
            _list.Add(p);
            _handles[i] = BenchParticle.New(p.Velocity, p.Life);
        }
    }

    [GlobalCleanup]
    public void Cleanup() => BenchParticle.Cache.Reset();

    [Benchmark(Baseline = true, OperationsPerInvoke = Count, Description = "T[] by ref")]
    public float Array()
    {
        foreach (ref BenchParticle p in _array.AsSpan())
        {
            p.Update();
        }

        return _array[0].Life;
    }

    [Benchmark(OperationsPerInvoke = Count, Description = "List<T> indexer, copy back")]
    public float ListIndexer()
    {
        for (int i = 0; i < _list.Count; i++)
        {
            BenchParticle p = _list[i];
            p.Update();
            _list[i] = p;
        }

        return _list[0].Life;
    }

    [Benchmark(OperationsPerInvoke = Count, Description = "List<T> CollectionsMarshal.AsSpan")]
    public float ListSpan()
    {
        foreach (ref BenchParticle p in CollectionsMarshal.AsSpan(_list))
        {
            p.Update();
        }

        return _list[0].Life;
    }

    [Benchmark(OperationsPerInvoke = Count, Description = "[SlabCache] foreach ref over the cache")]
    public int CacheEnumeration()
    {
        int visited = 0;
        foreach (ref BenchParticle p in BenchParticle.Cache)
        {
            p.Update();
            visited++;
        }

        return visited;
    }

    [Benchmark(OperationsPerInvoke = Count, Description = "SlabRef<T>[] beside the cache")]
    public float HandleArray()
    {
        foreach (SlabRef<BenchParticle> handle in _handles)
        {
            handle.Value.Update();
        }

        return _handles[0].Value.Life;
    }
}

/// <summary>The particle of the iteration benchmark: 28 bytes, as in the game sample.</summary>
[SlabCache(Name = "bench-particle")]
public partial struct BenchParticle
{
    public Vector3 Position;
    public Vector3 Velocity;
    public float Life;

    public BenchParticle(Vector3 velocity, float life)
    {
        Position = Vector3.Zero;
        Velocity = velocity;
        Life = life;
    }

    public void Update()
    {
        Position += Velocity;
        Life -= 1;
    }
}
