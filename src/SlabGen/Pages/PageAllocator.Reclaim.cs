// Giving memory back and keeping it for Atomic callers: Trim (free blocks' pages to the OS), Reserve, and Reclaim,
// which asks every registered shrinker (the caches, Pages/IShrinker.cs) and every thread's page list to give back
// what they park before an allocation fails, on a memory-pressure trim (MemoryPressure.cs) and on Reserve.

namespace SlabGen;

public sealed unsafe partial class PageAllocator
{
    /// <summary>
    /// Gives every fully free arena back to the OS, after draining every thread's per-thread list (live threads'
    /// too); an allocator over caller memory, which has no arena of its own to give, gives the pages of its free blocks
    /// back instead (on Linux: the memory stays the caller's and its free pages read zero when next touched). Slabs are
    /// not touched: <see cref="KmemCache.Shrink"/> gives a cache's empty slabs back first.
    /// </summary>
    /// <returns>The bytes given back (over caller memory: the bytes of the free blocks, given back again if they were already).</returns>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public long Trim()
    {
        DrainPerThreadPages();
        return _borrowed ? DiscardFreeBlocks() : ReleaseFreeArenas();
    }

    /// <summary>The pages of every free block go back to the OS; under the zone lock, so no block is handed out while its pages go.</summary>
    private long DiscardFreeBlocks()
    {
        long bytes = 0;
        lock (_zoneLock)
        {
            for (int order = 0; order <= MaxOrder; order++)
            {
                for (PageFrame* page = _freeArea[order].First; page != null; page = page->Next)
                {
                    if (ArenaSpace.Discard(page->Address, (nuint)PageSize << order))
                    {
                        bytes += (long)PageSize << order;
                    }
                }
            }
        }

        return bytes;
    }

    /// <summary>The most a reserve may ask for: the cap, else the memory the runtime says the process may use.</summary>
    internal long ReservableBytes => MaxBytes ?? GC.GetGCMemoryInfo().TotalAvailableMemoryBytes;

    /// <summary><see cref="ReservableBytes"/> and where it comes from, for the refusal's message.</summary>
    internal string ReservableDescription => MaxBytes is long cap
        ? $"its MaxBytes cap of {cap:N0} bytes"
        : $"{ReservableBytes:N0} bytes, the memory available to the process";

    /// <summary>The bytes kept free for <see cref="GfpFlags.Atomic"/> allocations (<see cref="Reserve"/>).</summary>
    public long ReservedBytes
    {
        get
        {
            lock (_zoneLock)
            {
                return _reservedPages * PageSize;
            }
        }
    }

    /// <summary>
    /// Keeps at least <paramref name="bytes"/> free for <see cref="GfpFlags.Atomic"/> allocations (the kernel's
    /// min_free_kbytes reserve that atomic allocations may dip into): arenas are taken now, at load time, and from then
    /// on an allocation that may sleep takes a new arena (or fails at the cap) rather than leave less than the
    /// reserve free, while an Atomic one takes whatever is free. Slabs an Atomic allocation grows a cache by come from
    /// it too. 0 ends the reserve; calling it again sets a new one.
    /// </summary>
    /// <param name="bytes">The reserve, rounded up to whole pages; 0 for none.</param>
    /// <returns>The reserve in bytes, whole pages.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative, or more than the allocator may ever hold (its cap, else the memory available to the process): refused before anything is taken.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    /// <exception cref="InvalidOperationException">Called in interrupt context: taking memory from the OS may sleep.</exception>
    /// <exception cref="InsufficientMemoryException">
    /// The cap (or the OS) leaves less than that free even after every thread's parked pages came back; the reserve stays
    /// as it was, the arenas taken stay with the allocator.
    /// </exception>
    [MaySleep]
    public long Reserve(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(bytes);
        ObjectDisposedException.ThrowIf(_id < 0, this);
        Gfp.Check(GfpFlags.Kernel, "page_reserve", null);
        long pages = (bytes / PageSize) + (bytes % PageSize != 0 ? 1 : 0); // no overflow near long.MaxValue
        if (bytes > ReservableBytes)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes,
                $"PageAllocator #{_id} cannot reserve {bytes:N0} bytes: more than it may ever hold ({ReservableDescription}). The reserve is unchanged.");
        }

        bool reclaimed = false;
        while (true)
        {
            lock (_zoneLock)
            {
                if (_freePages >= pages)
                {
                    _reservedPages = pages;
                    return pages * PageSize;
                }
            }

            if (AddArena() || WaitForArenasInFlight())
            {
                continue;
            }

            if (reclaimed)
            {
                long free;
                lock (_zoneLock)
                {
                    free = _freePages;
                }

                throw new InsufficientMemoryException($"PageAllocator #{_id} cannot reserve {pages * PageSize:N0} bytes: {free * PageSize:N0} are free" +
                    (MaxBytes is long cap ? $" at its MaxBytes cap of {cap:N0} bytes." : " and the OS refused more memory.") + " The reserve is unchanged.");
            }

            Reclaim(DrainScope.All);
            reclaimed = true;
        }
    }

    /// <summary>
    /// Takes back what threads and caches on this allocator park, so a failing allocation can be retried:
    /// every cache's array caches and depot (then its empty slabs), then the per-thread page lists. A caller that
    /// may sleep reaches every thread; an Atomic one only its own thread and exited threads, without waiting.
    /// </summary>
    internal void Reclaim(GfpFlags flags) => Reclaim(Gfp.MaySleep(flags) ? DrainScope.All : DrainScope.OwnAndExited);

    internal void Reclaim(DrainScope scope)
    {
        foreach (IShrinker shrinker in Shrinkers())
        {
            shrinker.Reclaim(scope);
        }

        _pageLists.Drain(scope);
    }

    /// <summary>A memory-pressure trim (MemoryPressure.cs): idle or all threads, caches, then free arenas.</summary>
    internal long TrimForPressure(bool highLoad)
    {
        if (_id < 0)
        {
            return 0;
        }

        Reclaim(highLoad ? DrainScope.All : DrainScope.Idle);
        return ReleaseFreeArenas();
    }

    /// <summary>Registers <paramref name="shrinker"/> (<c>register_shrinker</c>) until <see cref="UnregisterShrinker"/>.</summary>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    internal void RegisterShrinker(IShrinker shrinker)
    {
        lock (_shrinkers)
        {
            ObjectDisposedException.ThrowIf(_id < 0, this);
            _shrinkers.Add(shrinker);
        }
    }

    internal void UnregisterShrinker(IShrinker shrinker)
    {
        lock (_shrinkers)
        {
            _shrinkers.Remove(shrinker);
        }
    }

    private IShrinker[] Shrinkers()
    {
        lock (_shrinkers)
        {
            return [.. _shrinkers];
        }
    }
}
