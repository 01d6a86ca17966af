// The IMemoryPoolFactory<byte> of ASP.NET Core 10 that Kestrel (and the other servers) ask for their buffer pools:
// each Create is a pinned SlabMemoryPool (its slab memory in one pinned array, so its buffers are array segments, which
// Kestrel's sockets transport needs for multi-buffer sends), bounded by its budget and tagged with the server's owner.
using System.Buffers;
using Microsoft.AspNetCore.Connections;

namespace SlabGen.AspNetCore;

/// <summary>Makes pinned <see cref="SlabMemoryPool"/>s for the ASP.NET Core servers (<see cref="IMemoryPoolFactory{T}"/>).</summary>
public sealed class SlabMemoryPoolFactory : IMemoryPoolFactory<byte>
{
    /// <summary>The default budget of each pool: 64 MiB, 16,384 of Kestrel's 4 KiB buffers.</summary>
    public const int DefaultMaxBytesPerPool = 64 << 20;

    /// <summary>Creates the factory.</summary>
    /// <param name="maxBytesPerPool">The budget of each pool it makes (<see cref="SlabMemoryPool.CreatePinned"/>), 8 MiB to 1 GiB.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytesPerPool"/> is outside 8 MiB..1 GiB.</exception>
    public SlabMemoryPoolFactory(int maxBytesPerPool = DefaultMaxBytesPerPool)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytesPerPool, 8 << 20);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytesPerPool, 1 << 30);
        MaxBytesPerPool = maxBytesPerPool;
    }

    /// <summary>The budget of each pool.</summary>
    public int MaxBytesPerPool { get; }

    /// <summary>Creates a pool; its metrics and slabinfo names carry <see cref="MemoryPoolOptions.Owner"/> (for example "kestrel").</summary>
    /// <param name="options">The server's options; <see langword="null"/> for none.</param>
    /// <returns>A new pinned <see cref="SlabMemoryPool"/>.</returns>
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        SlabMemoryPool pool = SlabMemoryPool.CreatePinned(MaxBytesPerPool, options?.Owner);
        pool.ReuseOwners = true; // Kestrel disposes each block exactly once: no managed allocation per rent
        return pool;
    }
}
