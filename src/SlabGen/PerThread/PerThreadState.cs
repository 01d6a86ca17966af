// One thread's state for one owner (a page allocator's list, a slab cache's array cache): the pinned block the
// fast paths read, the thread it belongs to, and how its contents are taken out, given back, and caught up with
// after a drain. Every kind of per-thread state derives from this class, registers in its owner's
// PerThreadRegistry, and is drained, reaped and counted by the same code (PerThreadBlock.cs has the protocol).
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

    /// <summary>Held by a drain for its whole hold; taken by the owner only to reconcile after one.</summary>
    public Lock HoldLock { get; } = new();

    /// <summary>
    /// Slow-path entries since the last memory-pressure trim: a hint written by the owner without synchronisation,
    /// so a trim drains only states that sat idle (a lost update only makes one drain early or late).
    /// </summary>
    public int SlowPaths;

    /// <summary>Whether a drain has taken the contents and the owner has not caught up yet.</summary>
    protected bool IsTaken => Volatile.Read(ref PerThreadBlock.Header(Block)->State) == PerThreadBlock.Taken;

    /// <summary>
    /// Owner side: begins a slow-path step on the thread's own block, first catching up with a drain that took
    /// its contents. False when the block is dead (its owner is gone); then nothing is begun. Call it holding no
    /// lock: a holder needs none while it holds.
    /// </summary>
    public bool Enter()
    {
        nint* block = Block;
        while (true)
        {
            PerThreadBlock.BeginStep(block);
            nint blockState = Volatile.Read(ref PerThreadBlock.Header(block)->State);
            if (blockState == PerThreadBlock.Open)
            {
                return true;
            }

            PerThreadBlock.EndStep(block);
            if (blockState == PerThreadBlock.Dead)
            {
                return false;
            }

            if (blockState == PerThreadBlock.Armed)
            {
                PerThreadBlock.Disarm(block);
                continue;
            }

            // Held or Taken: the lock waits for the holder, then the owner drops what it took.
            lock (HoldLock)
            {
                if (Volatile.Read(ref PerThreadBlock.Header(block)->State) == PerThreadBlock.Taken)
                {
                    Reconcile();
                    PerThreadBlock.Reopen(block);
                }
            }
        }
    }

    /// <summary>Owner side: <see cref="Enter"/> that gives up instead of waiting for a drain (GfpFlags.Atomic).</summary>
    public bool TryEnter()
    {
        nint* block = Block;
        PerThreadBlock.BeginStep(block);
        nint blockState = Volatile.Read(ref PerThreadBlock.Header(block)->State);
        if (blockState == PerThreadBlock.Open)
        {
            return true;
        }

        PerThreadBlock.EndStep(block);
        if (blockState == PerThreadBlock.Armed)
        {
            PerThreadBlock.Disarm(block);
            return TryEnter();
        }

        if (blockState != PerThreadBlock.Taken || !HoldLock.TryEnter())
        {
            return false;
        }

        try
        {
            if (!IsTaken)
            {
                return false;
            }

            Reconcile();
            PerThreadBlock.Reopen(block);
        }
        finally
        {
            HoldLock.Exit();
        }

        PerThreadBlock.BeginStep(block);
        if (Volatile.Read(ref PerThreadBlock.Header(block)->State) == PerThreadBlock.Open)
        {
            return true;
        }

        PerThreadBlock.EndStep(block);
        return false;
    }

    /// <summary>Owner side: ends the slow-path step <see cref="Enter"/> began.</summary>
    public void Exit() => PerThreadBlock.EndStep(Block);

    /// <summary>
    /// Holder side (under <see cref="HoldLock"/>, the block held, the owner in no slow-path step): moves everything
    /// present out of the block into the state's list of taken items, without writing the block's counts: it
    /// records how far it took instead, for <see cref="Reconcile"/>. Entries taken by an earlier drain that the
    /// owner has not caught up with yet are not taken again.
    /// </summary>
    public abstract void TakeAllAsHolder();

    /// <summary>Owner side, inside a slow-path step: moves everything the block holds into the list of taken items and empties it.</summary>
    public abstract void TakeAllAsOwner();

    /// <summary>Owner side, under <see cref="HoldLock"/> with the block Taken: drops the entries the holder took, keeps the rest.</summary>
    protected abstract void Reconcile();

    /// <summary>Gives what a take took back to the layer below, under that layer's locks.</summary>
    public abstract void ReturnTaken();
}
