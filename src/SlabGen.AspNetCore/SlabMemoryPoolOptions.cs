// What AddSlabMemoryPool reads from configuration ("SlabGen:MemoryPool" in appsettings.json or the environment) or from
// code: the budget of each pool, and whether a request that finds its pool exhausted is answered 503.
namespace SlabGen.AspNetCore;

/// <summary>
/// The options of the pools <see cref="SlabMemoryPoolFactory"/> makes, bound from the configuration section
/// <see cref="SectionName"/> by <c>AddSlabMemoryPool()</c>.
/// </summary>
public sealed class SlabMemoryPoolOptions
{
    /// <summary>The configuration section the options are bound from: <c>SlabGen:MemoryPool</c> (<c>SlabGen__MemoryPool__MaxBytesPerPool</c> in the environment).</summary>
    public const string SectionName = "SlabGen:MemoryPool";

    /// <summary>The least budget of a pool: 8 MiB.</summary>
    public const int MinBytesPerPool = 8 << 20;

    /// <summary>The greatest budget of a pool: 1 GiB.</summary>
    public const int MaxBytesPerPoolLimit = 1 << 30;

    /// <summary>
    /// The budget of each pool a server asks for, <see cref="MinBytesPerPool"/> to <see cref="MaxBytesPerPoolLimit"/>
    /// (64 MiB by default, 16,384 of Kestrel's 4 KiB buffers). A pool's pages are whole 4 MiB sections, so it can hold
    /// somewhat more (<see cref="SlabMemoryPool.CapacityBytes"/>; the start-up log line gives both). Kestrel makes one
    /// pool per I/O queue of its sockets transport (one per core, at most 16): the process's bound is that many budgets.
    /// </summary>
    public int MaxBytesPerPool { get; set; } = SlabMemoryPoolFactory.DefaultMaxBytesPerPool;

    /// <summary>
    /// Whether the server sheds load when its pools run low (true by default): a request that arrives while its
    /// connection's pool has less than <see cref="MinFreeBytes"/> left, or whose handler fails for want of pool memory
    /// before its response has started, is answered 503 Service Unavailable with <c>Retry-After</c> and
    /// <c>Connection: close</c>, and logged. A pool exhausted while the transport receives closes that connection
    /// whatever this says: Kestrel treats a failed receive as the end of the connection (docs/server.md).
    /// </summary>
    public bool RespondServiceUnavailable { get; set; } = true;

    /// <summary>
    /// The free bytes a connection's pool must have for a new request to be admitted, 0 to <see cref="MaxBytesPerPoolLimit"/>
    /// (256 KiB by default, 64 of Kestrel's buffers; 0 admits every request).
    /// </summary>
    public int MinFreeBytes { get; set; } = 256 << 10;

    /// <summary>
    /// How long a pool must go without a rent before its free memory goes back (<see cref="SlabMemoryPool.Trim"/>: its
    /// caches' empty slabs, and the free pages of its pinned array to the OS), 0 to 3,600 seconds (10 by default; 0
    /// never trims). Kestrel's own pool hands idle blocks to the GC after about as long; this gives them to the OS.
    /// </summary>
    public int TrimAfterIdleSeconds { get; set; } = 10;

    /// <summary>The <c>Retry-After</c> of a 503, in seconds 0 to 3,600 (1 by default; 0 leaves the header out).</summary>
    public int RetryAfterSeconds { get; set; } = 1;
}
