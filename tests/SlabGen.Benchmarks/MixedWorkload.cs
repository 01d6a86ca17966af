namespace SlabGen.Benchmarks;

/// <summary>
/// The mixed workload of the memory goals: objects of six sizes grown to 64 MiB live with random frees along the way
/// (three allocations, one random free), churned at that size (200,000 times: free a random object, allocate one of
/// a random size), then a random third freed (a drop from the peak). Deterministic for a seed. The bookkeeping is
/// two arrays sized and touched up front, so measuring a process's RSS sees the allocator, not the list growing.
/// </summary>
internal sealed class MixedWorkload(Func<int, nint> allocate, Action<int, nint> free, Random random)
{
    /// <summary>The six sizes, in bytes.</summary>
    public static readonly int[] Sizes = [24, 64, 100, 256, 700, 3000];

    /// <summary>The live bytes the growth stops at.</summary>
    public const long TargetLiveBytes = 64L << 20;

    private const int Capacity = 1 << 18;
    private readonly int[] _sizes = Touched<int>(Capacity);
    private readonly nint[] _objects = Touched<nint>(Capacity);

    /// <summary>The requested bytes of the live objects.</summary>
    public long LiveBytes { get; private set; }

    /// <summary>How many objects are live.</summary>
    public int Count { get; private set; }

    /// <summary>The live count at <see cref="MarkSteady"/>.</summary>
    public int SteadyCount { get; private set; }

    /// <summary>The live bytes at <see cref="MarkSteady"/>.</summary>
    public long SteadyLiveBytes { get; private set; }

    /// <summary>Grows to <see cref="TargetLiveBytes"/>, then churns 200,000 replacements.</summary>
    public void GrowAndChurn()
    {
        while (LiveBytes < TargetLiveBytes)
        {
            Allocate();
            Allocate();
            Allocate();
            FreeRandom();
        }

        for (int i = 0; i < 200_000; i++)
        {
            FreeRandom();
            Allocate();
        }
    }

    /// <summary>Remembers the steady state's count and bytes.</summary>
    public void MarkSteady() => (SteadyCount, SteadyLiveBytes) = (Count, LiveBytes);

    /// <summary>Frees a random third of the live objects.</summary>
    public void Drop()
    {
        for (int i = Count / 3; i > 0; i--)
        {
            FreeRandom();
        }
    }

    /// <summary>Frees every live object.</summary>
    public void FreeAll()
    {
        while (Count != 0)
        {
            FreeRandom();
        }
    }

    private void Allocate()
    {
        int size = random.Next(Sizes.Length);
        _sizes[Count] = size;
        _objects[Count] = allocate(size);
        Count++;
        LiveBytes += Sizes[size];
    }

    private void FreeRandom()
    {
        int victim = random.Next(Count);
        free(_sizes[victim], _objects[victim]);
        LiveBytes -= Sizes[_sizes[victim]];
        Count--;
        _sizes[victim] = _sizes[Count];
        _objects[victim] = _objects[Count];
    }

    private static T[] Touched<T>(int length)
        where T : struct
    {
        var array = new T[length];
        Array.Fill(array, default);
        return array;
    }
}
