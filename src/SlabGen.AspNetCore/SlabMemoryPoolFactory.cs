// The IMemoryPoolFactory<byte> of ASP.NET Core 10 that Kestrel (and the other servers) ask for their buffer pools:
// each Create is a pinned SlabMemoryPool (its slab memory in one pinned array, so its buffers are array segments, which
// Kestrel's sockets transport needs for multi-buffer sends), bounded by its budget and tagged with the server's owner.
// It logs each pool it makes (budget as configured and as the pool's pages hold it) and each rent a pool refuses, and
// trims pools left idle (a timer; the pool's rent count standing still between two ticks is idleness).
using System.Buffers;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace SlabGen.AspNetCore;

/// <summary>Makes pinned <see cref="SlabMemoryPool"/>s for the ASP.NET Core servers (<see cref="IMemoryPoolFactory{T}"/>).</summary>
public sealed partial class SlabMemoryPoolFactory : IMemoryPoolFactory<byte>, IDisposable
{
    /// <summary>The default budget of each pool: 64 MiB, 16,384 of Kestrel's 4 KiB buffers.</summary>
    public const int DefaultMaxBytesPerPool = 64 << 20;

    private readonly ILogger _logger;
    private readonly List<SlabMemoryPool> _pools = [];
    private readonly Dictionary<SlabMemoryPool, long> _rentsAtLastTick = [];
    private readonly Timer? _trimTimer;

    /// <summary>The array the next pools come from: made for as many pools as Kestrel's sockets transport asks for by default.</summary>
    private PinnedPoolMemory? _memory;

    /// <summary>Creates the factory with a budget, no logging and no idle trimming.</summary>
    /// <param name="maxBytesPerPool">The budget of each pool it makes (<see cref="SlabMemoryPool.CreatePinned"/>), 8 MiB to 1 GiB.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytesPerPool"/> is outside 8 MiB..1 GiB.</exception>
    public SlabMemoryPoolFactory(int maxBytesPerPool)
        : this(new SlabMemoryPoolOptions { MaxBytesPerPool = maxBytesPerPool, TrimAfterIdleSeconds = 0 }, NullLogger<SlabMemoryPoolFactory>.Instance)
    {
    }

    /// <summary>Creates the factory from its options (as <c>AddSlabMemoryPool</c> binds them) and a logger.</summary>
    /// <param name="options">The options; <see cref="SlabMemoryPoolOptions.MaxBytesPerPool"/> 8 MiB to 1 GiB.</param>
    /// <param name="logger">Where the pools it makes and the rents they refuse are logged.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="logger"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The options' budget is outside 8 MiB..1 GiB.</exception>
    public SlabMemoryPoolFactory(IOptions<SlabMemoryPoolOptions> options, ILogger<SlabMemoryPoolFactory> logger)
        : this(options?.Value ?? throw new ArgumentNullException(nameof(options)), logger)
    {
    }

    private SlabMemoryPoolFactory(SlabMemoryPoolOptions options, ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxBytesPerPool, SlabMemoryPoolOptions.MinBytesPerPool, "MaxBytesPerPool");
        ArgumentOutOfRangeException.ThrowIfGreaterThan(options.MaxBytesPerPool, SlabMemoryPoolOptions.MaxBytesPerPoolLimit, "MaxBytesPerPool");
        ArgumentOutOfRangeException.ThrowIfNegative(options.TrimAfterIdleSeconds, "TrimAfterIdleSeconds");
        MaxBytesPerPool = options.MaxBytesPerPool;
        _logger = logger;
        if (options.TrimAfterIdleSeconds > 0)
        {
            TimeSpan period = TimeSpan.FromSeconds(options.TrimAfterIdleSeconds);
            _trimTimer = new Timer(static factory => ((SlabMemoryPoolFactory)factory!).TrimIdlePools(), this, period, period);
        }
    }

    /// <summary>The budget of each pool.</summary>
    public int MaxBytesPerPool { get; }

    /// <summary>The pools made so far (Kestrel's sockets transport asks for one per I/O queue), disposed ones included.</summary>
    public IReadOnlyList<SlabMemoryPool> Pools
    {
        get
        {
            lock (_pools)
            {
                return [.. _pools];
            }
        }
    }

    /// <summary>Creates a pool; its metrics and slabinfo names carry <see cref="MemoryPoolOptions.Owner"/> (for example "kestrel").</summary>
    /// <param name="options">The server's options; <see langword="null"/> for none.</param>
    /// <returns>A new pinned <see cref="SlabMemoryPool"/>.</returns>
    public MemoryPool<byte> Create(MemoryPoolOptions? options = null)
    {
        SlabMemoryPool pool;
        int count;
        lock (_pools)
        {
            // One pinned array for the pools Kestrel makes at start-up (one per I/O queue, Math.Min(cores, 16) by
            // default): one large allocation, where one per pool cost a gen-2 collection each (PinnedPoolMemory.cs).
            if (_memory?.TryCreatePool(options?.Owner) is not SlabMemoryPool made)
            {
                int pools = _pools.Count == 0 ? Math.Min(Math.Min(Environment.ProcessorCount, 16), PinnedPoolMemory.MaxPools(MaxBytesPerPool)) : 1;
                _memory = new PinnedPoolMemory(pools, MaxBytesPerPool);
                made = _memory.TryCreatePool(options?.Owner)!;
            }

            pool = made;
            pool.ReuseOwners = true; // Kestrel disposes each block exactly once: no managed allocation per rent
            pool.RentFailed += OnRentFailed;
            _pools.Add(pool);
            count = _pools.Count;
        }

        LogPoolCreated(_logger, pool.Owner, count, MaxBytesPerPool, pool.CapacityBytes ?? 0);
        return pool;
    }

    /// <summary>Stops trimming idle pools. The pools stay: the server disposes them.</summary>
    public void Dispose() => _trimTimer?.Dispose();

    /// <summary>Trims each live pool that served no rent since the last tick (the timer's tick; tests call it directly).</summary>
    internal void TrimIdlePools()
    {
        SlabMemoryPool[] pools;
        lock (_pools)
        {
            pools = [.. _pools];
        }

        foreach (SlabMemoryPool pool in pools)
        {
            long rents = pool.Rents;
            bool idle;
            lock (_rentsAtLastTick)
            {
                idle = _rentsAtLastTick.TryGetValue(pool, out long last) && last == rents;
                _rentsAtLastTick[pool] = rents;
            }

            if (idle)
            {
                try
                {
                    long bytes = pool.Trim();
                    if (bytes > 0)
                    {
                        LogTrimmed(_logger, pool.Owner, bytes);
                    }
                }
                catch (ObjectDisposedException)
                {
                    // disposed by the server meanwhile
                }
            }
        }
    }

    private void OnRentFailed(SlabMemoryPool pool, int size) =>
        LogRentRefused(_logger, pool.Owner, size, pool.RentedBytes, pool.CapacityBytes ?? 0, MaxBytesPerPool, pool.RentFailures);

    [LoggerMessage(EventId = 1, EventName = "PoolCreated", Level = LogLevel.Information,
        Message = "SlabGen memory pool {Count} for '{Owner}': budget {ConfiguredBytes} bytes as configured, {CapacityBytes} bytes as its whole 4 MiB sections hold")]
    private static partial void LogPoolCreated(ILogger logger, string owner, int count, int configuredBytes, long capacityBytes);

    [LoggerMessage(EventId = 5, EventName = "PoolTrimmed", Level = LogLevel.Debug,
        Message = "SlabGen memory pool for '{Owner}' was idle: {Bytes} bytes given back")]
    private static partial void LogTrimmed(ILogger logger, string owner, long bytes);

    [LoggerMessage(EventId = 2, EventName = "RentRefused", Level = LogLevel.Warning,
        Message = "SlabGen memory pool for '{Owner}' refused a rent of {Size} bytes: {RentedBytes} bytes rented of its capacity of {CapacityBytes} ({ConfiguredBytes} configured); {Failures} refusals so far")]
    private static partial void LogRentRefused(ILogger logger, string owner, int size, long rentedBytes, long capacityBytes, int configuredBytes, long failures);
}
