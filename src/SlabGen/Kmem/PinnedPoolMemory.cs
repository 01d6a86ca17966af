// Memory for several pinned SlabMemoryPools in one array on the pinned object heap. Kestrel asks for one pool per I/O
// queue at start-up; one array per pool meant one large allocation each, and in a young process every large allocation
// after the first triggers a gen-2 collection (measured, .NET 10: one 68 MiB pinned array, none; two of 12 MiB, one).
// One array for all of them is one allocation. Each pool takes whole 4 MiB sections of it, aligned: a section is never
// shared by two pools (PageAllocator.Borrowed.cs). The array's pages are untouched until a pool uses them.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>
/// One pinned array for up to <see cref="Pools"/> <see cref="SlabMemoryPool"/>s of the same budget, handed out by
/// <see cref="TryCreatePool"/>: one allocation on the pinned object heap instead of one per pool.
/// </summary>
/// <remarks>
/// Thread-safe. The array lives as long as any pool made from it. A disposed pool's sections are not handed out again.
/// Pages of the array no pool has touched take no physical memory.
/// </remarks>
public sealed class PinnedPoolMemory
{
    private readonly byte[] _array;
    private readonly nint _aligned;
    private readonly int _sectionsPerPool;
    private int _made;

    /// <summary>Allocates the array for <paramref name="pools"/> pools of <paramref name="maxBytesPerPool"/> each.</summary>
    /// <param name="pools">How many pools, 1 or more; the array must stay under 2 GiB.</param>
    /// <param name="maxBytesPerPool">Each pool's budget, 8 MiB to 1 GiB (as <see cref="SlabMemoryPool.CreatePinned"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A budget outside 8 MiB..1 GiB, fewer than 1 pool, or more pools than one array can hold.</exception>
    public unsafe PinnedPoolMemory(int pools, int maxBytesPerPool)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytesPerPool, 8 << 20);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytesPerPool, 1 << 30);
        ArgumentOutOfRangeException.ThrowIfLessThan(pools, 1);
        _sectionsPerPool = SectionsFor(maxBytesPerPool);
        long bytes = ((long)_sectionsPerPool * pools + 1) * SlabMemoryPool.MaxSize;
        if (bytes > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(pools), pools,
                $"{pools} pools of {maxBytesPerPool:N0} bytes need {bytes:N0} bytes of array; one array holds at most {Array.MaxLength:N0}.");
        }

        _array = GC.AllocateUninitializedArray<byte>((int)bytes, pinned: true);
        nint start = (nint)Unsafe.AsPointer(ref MemoryMarshal.GetArrayDataReference(_array));
        _aligned = (start + SlabMemoryPool.MaxSize - 1) & ~(nint)(SlabMemoryPool.MaxSize - 1);
        Pools = pools;
        MaxBytesPerPool = maxBytesPerPool;
    }

    /// <summary>The most pools of <paramref name="maxBytesPerPool"/> one array can hold (arrays stay under 2 GiB).</summary>
    /// <param name="maxBytesPerPool">Each pool's budget, 8 MiB to 1 GiB.</param>
    /// <returns>At least 1.</returns>
    /// <exception cref="ArgumentOutOfRangeException">A budget outside 8 MiB..1 GiB.</exception>
    public static int MaxPools(int maxBytesPerPool)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytesPerPool, 8 << 20);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytesPerPool, 1 << 30);
        return (int)Math.Max(1, ((Array.MaxLength / SlabMemoryPool.MaxSize) - 1) / SectionsFor(maxBytesPerPool));
    }

    /// <summary>How many pools the array holds.</summary>
    public int Pools { get; }

    /// <summary>Each pool's budget.</summary>
    public int MaxBytesPerPool { get; }

    /// <summary>Pools that can still be made.</summary>
    public int PoolsLeft => Math.Max(0, Pools - Volatile.Read(ref _made));

    /// <summary>Makes the next pool over its own sections of the array, or returns null when every pool was made.</summary>
    /// <param name="owner">Who uses the pool, the tag of its metrics and the prefix of its caches in slabinfo; <see langword="null"/> for "pool".</param>
    /// <returns>The pool, or <see langword="null"/> when <see cref="PoolsLeft"/> is 0.</returns>
    public SlabMemoryPool? TryCreatePool(string? owner)
    {
        int index = Interlocked.Increment(ref _made) - 1;
        if (index >= Pools)
        {
            return null;
        }

        nint first = _aligned + (nint)((long)index * _sectionsPerPool * SlabMemoryPool.MaxSize);
        return SlabMemoryPool.CreateOver(_array, first, _sectionsPerPool, MaxBytesPerPool, owner);
    }

    /// <summary>Whole 4 MiB sections for a budget of <paramref name="maxBytes"/> and the page frames of those sections.</summary>
    private static int SectionsFor(int maxBytes) =>
        (int)((maxBytes + ((((long)maxBytes / SlabMemoryPool.MaxSize) + 1) * (long)Arena.MetadataBytes) + SlabMemoryPool.MaxSize - 1) / SlabMemoryPool.MaxSize);
}
