// One thread's state for one owner (a page allocator's list, a slab cache's array cache): the pinned block the
// fast paths read, the thread it belongs to, and how its contents are taken out and given back. Every kind of
// per-thread state derives from this class, registers in its owner's PerThreadRegistry, and is drained, reaped
// and counted by the same code.
using System.Runtime.CompilerServices;

namespace SlabGen;

internal abstract unsafe class PerThreadState
{
    /// <summary>The pinned block; kept alive by this object, which its thread's slots and its owner's registry reference.</summary>
    private readonly nint[] _storage;

    /// <summary>Makes the calling thread's state with a block of <paramref name="words"/> words (header included).</summary>
    protected PerThreadState(long cookie, int limit, int words)
    {
        Thread = Thread.CurrentThread;
        _storage = GC.AllocateArray<nint>(words, pinned: true);
        Block = (nint*)Unsafe.AsPointer(ref _storage[0]);
        PerThreadBlock.Initialize(Block, cookie, limit);
        ThreadExitWatch.Watch();
    }

    /// <summary>The thread whose state this is.</summary>
    public Thread Thread { get; }

    /// <summary>The pinned block the fast paths read and write.</summary>
    public nint* Block { get; }

    /// <summary>
    /// Slow-path entries since the last memory-pressure trim: a hint written by the owner without synchronisation,
    /// so a trim drains only states that sat idle (a lost update only makes one drain early or late).
    /// </summary>
    public int SlowPaths;

    /// <summary>
    /// Moves everything the block holds out of it (into the state's own list of taken items). Runs while a
    /// holder holds the block, or on the owning thread inside an operation: never with a lock held that the
    /// owner's slow paths take.
    /// </summary>
    public abstract void TakeAll();

    /// <summary>Gives what <see cref="TakeAll"/> took back to the layer below, under that layer's locks.</summary>
    public abstract void ReturnTaken();

    /// <summary>The state is forgotten (its thread exited, or its owner is gone): frees what it owns outside the block.</summary>
    public virtual void Retire()
    {
    }
}
