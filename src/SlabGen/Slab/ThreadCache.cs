// A thread's array cache of free objects for one cache: the kernel SLAB's struct array_cache, per thread.
// Alloc pops and free pushes without a lock; an empty cache refills BatchCount objects from the slabs and a
// full one flushes its BatchCount coldest, each under the cache lock once per batch. A free on another
// thread than the allocating one pushes onto the freeing thread's cache: objects migrate, which is correct.
// The cache registers each array cache with its thread; when the thread exits, the next drain returns its
// objects to the slabs.
//
// The fast path reads the array cache through raw pointers, so it is a pinned block:
//   [Cookie][Avail][Limit][InterruptDepth*][entry 0 .. entry Limit-1]
// found through ThreadSlots, the unmanaged per-thread table indexed by cache id: TLS -> slot -> block, or
// through a generated type's own thread static. InterruptDepth* points at the owning thread's interrupt-context
// depth, so a GfpFlags.Kernel fast path checks it with one load instead of another thread-local access.
using System.Runtime.CompilerServices;

namespace SlabGen;

internal sealed unsafe class ThreadCache
{
    public const int CookieIndex = ThreadSlots.CookieIndex;
    public const int AvailIndex = 1;
    public const int LimitIndex = 2;
    public const int InterruptDepthIndex = 3;
    public const int EntriesIndex = 4;

    /// <summary>The pinned block; kept alive by this object, which its thread's slots and its cache reference.</summary>
    private readonly nint[] _storage;

    /// <summary>Makes the calling thread's array cache of <paramref name="cache"/>.</summary>
    public ThreadCache(KmemCache cache, long cookie)
    {
        Cache = cache;
        Limit = cache.Limit;
        BatchCount = cache.BatchCount;
        Thread = Thread.CurrentThread;
        _storage = GC.AllocateArray<nint>(EntriesIndex + Limit, pinned: true);
        Block = (nint*)Unsafe.AsPointer(ref _storage[0]);
        Block[CookieIndex] = (nint)cookie;
        Block[LimitIndex] = Limit;
        Block[InterruptDepthIndex] = (nint)ThreadSlots.InterruptDepthWord;
    }

    public KmemCache Cache { get; }

    public Thread Thread { get; }

    public int Limit { get; }

    public int BatchCount { get; }

    public nint* Block { get; }

    public int Avail
    {
        get => (int)Block[AvailIndex];
        set => Block[AvailIndex] = value;
    }

    /// <summary>All the slots; the first <see cref="Avail"/> hold free objects, the last of them the hottest.</summary>
    public Span<nint> Entries => new(Block + EntriesIndex, Limit);

    public void Push(void* obj) => Block[EntriesIndex + Block[AvailIndex]++] = (nint)obj;

    public void* Pop() => (void*)Block[EntriesIndex + --Block[AvailIndex]];

    /// <summary>
    /// The fast-path pop of every allocation entry point: the hottest object of <paramref name="block"/> (a
    /// thread's block, not null), or null when the block is empty or <paramref name="flags"/> need the slow path:
    /// anything but Atomic, or Kernel outside interrupt context (either with NoWarn). Zero, contradictions and
    /// Kernel inside interrupt context go to the slow path, which checks them.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* TryPop(nint* block, GfpFlags flags)
    {
        GfpFlags mode = flags & ~GfpFlags.NoWarn;
        if (mode == GfpFlags.Atomic || (mode == GfpFlags.Kernel && (*(int*)block[InterruptDepthIndex] == 0 || !InterruptContext.ChecksEnabled)))
        {
            nint avail = block[AvailIndex] - 1;
            if (avail >= 0)
            {
                block[AvailIndex] = avail;
                return (void*)block[EntriesIndex + avail];
            }
        }

        return null;
    }

    /// <summary>The fast-path push of every free entry point: false when <paramref name="block"/> (not null) is full.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryPush(nint* block, void* obj)
    {
        nint avail = block[AvailIndex];
        if (avail < block[LimitIndex])
        {
            block[EntriesIndex + avail] = (nint)obj;
            block[AvailIndex] = avail + 1;
            return true;
        }

        return false;
    }

    /// <summary>The kernel SLAB's enable_cpucache: smaller objects get larger array caches.</summary>
    public static (int Limit, int BatchCount) Tunables(nuint objectSize)
    {
        int limit = objectSize switch
        {
            > 131072 => 1,
            > PageAllocator.PageSize => 8,
            > 1024 => 24,
            > 256 => 54,
            _ => 120,
        };
        return (limit, (limit + 1) / 2);
    }
}
