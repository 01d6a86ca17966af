// A thread's array cache of one slab cache: two magazines of object pointers (Bonwick and Adams 2001), the loaded
// one that the fast paths pop and push, and the previous one, always full or empty, that a miss swaps in before
// anything else. Only when both are empty (an allocation) or both full (a free) does the thread exchange a whole
// magazine with the cache's depot; only when the depot has none to give, or no room, do objects move to or from
// slabs, a batch at a time under the cache lock. A free on another thread than the allocating one pushes onto
// the freeing thread's magazines: objects migrate, which is correct.
//
// The block (PerThreadBlock.cs) is found through ThreadSlots by cache id, through a generated type's own thread
// static, or through kmalloc's per-thread table; all three reach this same block, whose address never changes:
//   [header: Cookie Busy Floor Capacity Limit InterruptDepth* Count][Entries*]
//   Count = objects in the loaded magazine, Entries* = the loaded magazine, Capacity = its rounds (0 while held).
// The previous magazine and what a drain took live in this object: only slow paths and holders touch them.
using System.Runtime.CompilerServices;

namespace SlabGen;

internal sealed unsafe class ArrayCache : PerThreadState
{
    public const int EntriesIndex = PerThreadBlock.HeaderWords;
    private const int Words = EntriesIndex + 1;

    /// <summary>The previous magazine: full (<see cref="_previousCount"/> = Size) or empty, except after a drain took it.</summary>
    private nint* _previous;
    private int _previousCount;

    /// <summary>What drains took out of the magazines, until it is given back; guarded by itself (two drains may overlap).</summary>
    private readonly List<nint> _taken = [];

    /// <summary>How far into the loaded magazine a drain took, until the owner reconciles (PerThreadBlock.cs).</summary>
    private int _seen;

    /// <summary>Makes the calling thread's array cache of <paramref name="cache"/>, with two empty magazines.</summary>
    public ArrayCache(KmemCache cache, long cookie)
        : base(cookie, cache.Limit, Words)
    {
        Cache = cache;
        Size = cache.Limit;
        Block[EntriesIndex] = (nint)MagazineDepot.NewMagazine(Size);
        _previous = MagazineDepot.NewMagazine(Size);
    }

    public KmemCache Cache { get; }

    /// <summary>The rounds of a magazine (slabinfo's limit).</summary>
    public int Size { get; }

    /// <summary>Objects in both magazines (not those a drain took); read without synchronisation, so exact only when the thread is not allocating or freeing.</summary>
    public int Cached
    {
        get
        {
            int loaded = (int)Volatile.Read(ref Block[PerThreadBlock.CountIndex]);
            int taken = IsTaken ? Volatile.Read(ref _seen) : 0;
            return Math.Max(0, loaded - taken) + Volatile.Read(ref _previousCount);
        }
    }

    private nint Count
    {
        get => Block[PerThreadBlock.CountIndex];
        set => Block[PerThreadBlock.CountIndex] = value;
    }

    private nint* Loaded
    {
        get => (nint*)Block[EntriesIndex];
        set => Block[EntriesIndex] = (nint)value;
    }

    /// <summary>
    /// The fast-path pop of every allocation entry point: the hottest object of <paramref name="block"/> (a
    /// thread's block, not null), or null when the loaded magazine is empty, a drain has the block, or
    /// <paramref name="flags"/> need the slow path: anything but Atomic, or Kernel outside interrupt context (either
    /// with NoWarn). Zero, contradictions and Kernel inside interrupt context go to the slow path, which checks them.
    /// The Count store comes before the Floor load: that order is the drain handshake (PerThreadBlock.cs).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void* TryPop(nint* block, GfpFlags flags)
    {
        GfpFlags mode = flags & ~GfpFlags.NoWarn;
        if (mode == GfpFlags.Atomic || (mode == GfpFlags.Kernel && (*(int*)block[PerThreadBlock.InterruptDepthIndex] == 0 || !InterruptContext.ChecksEnabled)))
        {
            nint count = block[PerThreadBlock.CountIndex];
            if (count > 0)
            {
                Volatile.Write(ref block[PerThreadBlock.CountIndex], count - 1);
                if (PerThreadBlock.IsOpen(block))
                {
                    return (void*)((nint*)block[EntriesIndex])[count - 1];
                }

                Volatile.Write(ref block[PerThreadBlock.CountIndex], count);
            }
        }

        return null;
    }

    /// <summary>The fast-path push of every free entry point: false when the loaded magazine of <paramref name="block"/> (not null) is full or a drain has the block.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool TryPush(nint* block, void* obj)
    {
        nint count = block[PerThreadBlock.CountIndex];
        if (count < Volatile.Read(ref block[PerThreadBlock.CapacityIndex]))
        {
            ((nint*)block[EntriesIndex])[count] = (nint)obj;
            Volatile.Write(ref block[PerThreadBlock.CountIndex], count + 1);
            return true;
        }

        return false;
    }

    /// <summary>The kernel SLAB's enable_cpucache: smaller objects get larger magazines.</summary>
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

    // The owner's slow-path steps; each runs between Enter and Exit.

    /// <summary>Pops from the loaded magazine, or swaps in a full previous one first; null when both are empty.</summary>
    public void* PopOrSwap()
    {
        if (Count == 0 && _previousCount == Size)
        {
            Swap();
        }

        return Count == 0 ? null : (void*)Loaded[--Count];
    }

    /// <summary>Pushes onto the loaded magazine, or swaps in an empty previous one first; false when both are full.</summary>
    public bool PushOrSwap(void* obj)
    {
        if (Count == Size && _previousCount == 0)
        {
            Swap();
        }

        if (Count == Size)
        {
            return false;
        }

        Loaded[Count++] = (nint)obj;
        return true;
    }

    /// <summary>
    /// Loads a full magazine from the depot and pops one object of it. The previous magazine (empty) is returned
    /// for the depot's empties; or <paramref name="full"/> itself, still full, when the loaded magazine has objects
    /// again (a constructor allocated on this thread in between): then the pop is from the loaded one.
    /// </summary>
    public nint* LoadFull(nint* full, out void* obj)
    {
        if (Count != 0)
        {
            obj = (void*)Loaded[--Count];
            return full;
        }

        nint* empty = _previous;
        _previous = Loaded;
        _previousCount = 0;
        Loaded = full;
        Count = Size - 1;
        obj = (void*)full[Size - 1];
        return empty;
    }

    /// <summary>
    /// Loads an empty magazine and pushes <paramref name="obj"/> onto it. Returns the magazine displaced and how
    /// many objects it holds: the previous one (full) for the depot; or <paramref name="empty"/> itself with 0 when
    /// a drain made room in the meantime, and the push went to the loaded magazine.
    /// </summary>
    public nint* LoadEmpty(nint* empty, void* obj, out int displacedCount)
    {
        if (PushOrSwap(obj))
        {
            displacedCount = 0;
            return empty;
        }

        nint* full = _previous;
        displacedCount = _previousCount;
        _previous = Loaded;
        _previousCount = (int)Count;
        Loaded = empty;
        Loaded[0] = (nint)obj;
        Count = 1;
        return full;
    }

    /// <summary>Puts objects just taken from slabs into the loaded magazine and pops one; returns how many did not fit (left at the start of <paramref name="objects"/>).</summary>
    public int FillAndPop(Span<nint> objects, out void* obj)
    {
        int fit = Math.Min(objects.Length, Size - (int)Count);
        objects[^fit..].CopyTo(new Span<nint>(Loaded + Count, fit));
        Count += fit;
        obj = (void*)Loaded[--Count];
        return objects.Length - fit;
    }

    /// <inheritdoc/>
    public override void TakeAllAsHolder()
    {
        int start = _seen;
        int end = Math.Max(start, (int)Volatile.Read(ref Block[PerThreadBlock.CountIndex]));
        Take(new ReadOnlySpan<nint>(Loaded + start, end - start));
        _seen = end;
    }

    /// <inheritdoc/>
    public override void TakeAllAsOwner()
    {
        Take(new ReadOnlySpan<nint>(Loaded, (int)Count));
        Count = 0;
    }

    /// <inheritdoc/>
    protected override void Reconcile()
    {
        int taken = _seen;
        int present = Math.Max(0, (int)Count - taken);
        new ReadOnlySpan<nint>(Loaded + taken, present).CopyTo(new Span<nint>(Loaded, present));
        Count = present;
        _seen = 0;
    }

    /// <inheritdoc/>
    public override void ReturnTaken()
    {
        nint[] objects;
        lock (_taken)
        {
            objects = [.. _taken];
            _taken.Clear();
        }

        if (objects.Length != 0)
        {
            Cache.ReturnObjects(objects);
        }
    }

    /// <inheritdoc/>
    public override void Retire(bool threadExited)
    {
        if (threadExited)
        {
            FreeMagazines();
        }
    }

    /// <summary>A killed block of a live thread: the magazines go when nothing can push into them any more (a no-op after Retire).</summary>
    ~ArrayCache() => FreeMagazines();

    private void FreeMagazines()
    {
        MagazineDepot.FreeMagazine((nint*)Interlocked.Exchange(ref Block[EntriesIndex], 0));
        MagazineDepot.FreeMagazine(_previous);
        _previous = null;
    }

    /// <summary>Moves loaded entries and the whole previous magazine into the taken list.</summary>
    private void Take(ReadOnlySpan<nint> loaded)
    {
        lock (_taken)
        {
            foreach (nint obj in loaded)
            {
                _taken.Add(obj);
            }

            foreach (nint obj in new ReadOnlySpan<nint>(_previous, _previousCount))
            {
                _taken.Add(obj);
            }
        }

        _previousCount = 0;
    }

    private void Swap()
    {
        nint* loaded = Loaded;
        int count = (int)Count;
        Loaded = _previous;
        Count = _previousCount;
        _previous = loaded;
        _previousCount = count;
    }
}
