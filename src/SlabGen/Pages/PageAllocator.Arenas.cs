// Arenas: the 4 MiB blocks of memory the allocator takes from the OS (Arena.cs, ArenaSpace.cs) and gives back when
// every page of one is free. The OS is asked outside the zone lock; a thread at the cap waits for arenas in flight
// rather than failing while another thread's arena is about to arrive.

namespace SlabGen;

public sealed unsafe partial class PageAllocator
{
    /// <summary>The number of 4 MiB arenas this allocator holds.</summary>
    public int ArenaCount
    {
        get
        {
            lock (_zoneLock)
            {
                return _arenas.Count;
            }
        }
    }

    /// <summary>The bytes this allocator holds from the OS (arenas × 4 MiB); 0 for an allocator over caller memory.</summary>
    public long BytesFromOs => _borrowed ? 0 : (long)ArenaCount * (long)Arena.Bytes;

    private long ReleaseFreeArenas()
    {
        var released = new List<nint>();
        lock (_zoneLock)
        {
            for (int i = _arenas.Count - 1; i >= 0; i--)
            {
                PageFrame* first = ((Arena*)_arenas[i])->Frames;
                if (!_borrowed && first->Flags == PageFlags.Buddy && first->Order == MaxOrder && _freePages - Arena.Pages >= _reservedPages)
                {
                    DelFromFreeList(first, MaxOrder);
                    released.Add(_arenas[i]);
                    _arenas.RemoveAt(i);
                }
            }
        }

        foreach (nint arena in released)
        {
            Arena.Destroy((Arena*)arena);
        }

        Interlocked.Add(ref _arenasClaimed, -released.Count);
        return released.Count * (long)Arena.Bytes;
    }

    /// <summary>Takes one more arena from the OS, unless the cap forbids it. False when none was added.</summary>
    private bool AddArena()
    {
        if (Interlocked.Increment(ref _arenasClaimed) > _maxArenas)
        {
            Interlocked.Decrement(ref _arenasClaimed);
            return false;
        }

        Interlocked.Increment(ref _arenasInFlight);
        try
        {
            Arena* arena = Arena.Create(_id);
            if (arena != null)
            {
                lock (_zoneLock)
                {
                    if (_id >= 0)
                    {
                        _arenas.Add((nint)arena);
                        AddToFreeList(arena->Frames, MaxOrder);
                        return true;
                    }
                }

                Arena.Destroy(arena);
            }

            Interlocked.Decrement(ref _arenasClaimed);
            return false;
        }
        finally
        {
            Interlocked.Decrement(ref _arenasInFlight);
        }
    }

    /// <summary>
    /// Waits while other threads map arenas the cap has room for; true if there were any (their pages are on the
    /// free lists now, or their mapping failed and the reservation is free again). A thread that found the cap
    /// reached while another was still mapping its last arena would otherwise report a false out-of-memory.
    /// </summary>
    private bool WaitForArenasInFlight()
    {
        if (Volatile.Read(ref _arenasInFlight) == 0)
        {
            return false;
        }

        SpinWait spinner = default;
        while (Volatile.Read(ref _arenasInFlight) != 0)
        {
            spinner.SpinOnce();
        }

        return true;
    }
}
