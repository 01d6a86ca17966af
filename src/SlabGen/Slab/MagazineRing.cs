// A bounded ring of magazine pointers that any thread may put into and take from without a lock: Vyukov's bounded
// MPMC queue, one pointer per slot. A thread claims a slot by moving the enqueue or dequeue position with one CAS
// and publishes it through the slot's sequence number; a slot claimed but not yet published reads as full or
// empty, so the caller goes elsewhere instead of waiting. The depot (MagazineDepot.cs) keeps its full and its
// empty magazines in two of these.
//
// History: the shared array before it copied whole batches of object pointers through a ring like this one, and a
// lock before that (each of a producer and a consumer waited about 0.5 µs per batch for the other's copy). A
// magazine moves as one pointer, so nothing is copied at all.
using System.Runtime.InteropServices;

namespace SlabGen;

internal sealed unsafe class MagazineRing
{
    /// <summary>Slots of [sequence][pointer]; pinned, so the fast loads stay plain.</summary>
    private readonly nint[] _slots;
    private readonly int _mask;

    private PaddedPosition _enqueue;
    private PaddedPosition _dequeue;

    /// <summary>Makes room for <paramref name="capacity"/> (a power of two) pointers.</summary>
    public MagazineRing(int capacity)
    {
        _mask = capacity - 1;
        _slots = GC.AllocateArray<nint>(capacity * 2, pinned: true);
        for (int i = 0; i < capacity; i++)
        {
            _slots[i * 2] = i;
        }
    }

    /// <summary>How many pointers it holds; read without synchronisation, so exact only when nobody puts or takes.</summary>
    public int Count => (int)Math.Clamp(Volatile.Read(ref _enqueue.Value) - Volatile.Read(ref _dequeue.Value), 0, _mask + 1);

    /// <summary>Adds a pointer; false when every slot is taken.</summary>
    public bool TryPut(nint* magazine)
    {
        long position = Volatile.Read(ref _enqueue.Value);
        while (true)
        {
            int slot = ((int)position & _mask) * 2;
            long difference = Volatile.Read(ref _slots[slot]) - position;
            if (difference == 0)
            {
                long seen = Interlocked.CompareExchange(ref _enqueue.Value, position + 1, position);
                if (seen == position)
                {
                    _slots[slot + 1] = (nint)magazine;
                    Volatile.Write(ref _slots[slot], (nint)(position + 1));
                    return true;
                }

                position = seen;
            }
            else if (difference < 0)
            {
                return false;
            }
            else
            {
                position = Volatile.Read(ref _enqueue.Value);
            }
        }
    }

    /// <summary>Takes the oldest pointer; null when empty.</summary>
    public nint* TryTake()
    {
        long position = Volatile.Read(ref _dequeue.Value);
        while (true)
        {
            int slot = ((int)position & _mask) * 2;
            long difference = Volatile.Read(ref _slots[slot]) - (position + 1);
            if (difference == 0)
            {
                long seen = Interlocked.CompareExchange(ref _dequeue.Value, position + 1, position);
                if (seen == position)
                {
                    var magazine = (nint*)_slots[slot + 1];
                    Volatile.Write(ref _slots[slot], (nint)(position + _mask + 1));
                    return magazine;
                }

                position = seen;
            }
            else if (difference < 0)
            {
                return null;
            }
            else
            {
                position = Volatile.Read(ref _dequeue.Value);
            }
        }
    }

    /// <summary>A position on a cache line of its own, so the enqueuing and the dequeuing threads do not share one.</summary>
    [StructLayout(LayoutKind.Explicit, Size = 128)]
    private struct PaddedPosition
    {
        [FieldOffset(64)]
        public long Value;
    }
}
