// The block every piece of per-thread state lives in (a thread's page list, a thread's array cache of one slab
// cache), and the protocol that lets any thread take what a live thread's block holds without the owner's fast
// path paying for a lock or an atomic instruction. README of the mechanism: docs/per-thread.md.
//
// Layout (pinned words; the first HeaderWords are the same for every kind of block):
//   [Cookie][Busy][Floor][Capacity][Limit][InterruptDepth*][Count][kind-specific words …]
//   Cookie          the owner's cookie, never reused: the one ownership check (IsOwnedBy).
//   Busy            written by the owning thread only: 1 while it is inside an operation on the block, else 0.
//   Floor           0 while the block is open; Held while a drain holds it; Dead once its owner is gone.
//   Capacity        how much the block may hold: Limit while open, 0 while held or dead.
//   Limit           the configured capacity, which Capacity returns to when a hold ends.
//   InterruptDepth* the owning thread's interrupt-context depth word (InterruptContext), so a fast path tests it
//                   without a second thread-local access.
//   Count           how much the block holds now (array cache: objects in the loaded magazine; page list: pages).
//
// The protocol is an asymmetric Dekker handshake (Dice, Huang and Yang, "Asymmetric Dekker Synchronization",
// 2001; the same shape as liburcu's membarrier flavour, Desnoyers et al., IEEE TPDS 2012):
//   owner:   Busy = 1;  read Floor (a pop) or Capacity (a push);  operate;  Busy = 0 (release)
//   holder:  Floor = Held; Capacity = 0;  Interlocked.MemoryBarrierProcessWide();  wait until Busy == 0;
//            take what the block holds;  Capacity = Limit; Floor = 0 (release)
// The owner's side is plain stores and loads. The process-wide barrier (membarrier on Linux,
// FlushProcessWriteBuffers on Windows) runs a full fence on every processor that runs a thread of the process,
// so after it returns either the owner's Busy = 1 is visible to the holder (who then waits for the operation to
// end) or the owner's later read of Floor/Capacity sees the hold (and it takes the slow path, which waits for the
// hold to end). Either way the owner and the holder never change the block at once. The owner's critical
// sections are a few instructions with no call, no lock and no wait, so a holder waits at most until a
// preempted owner runs again. Holders exclude each other with one process-wide lock (PerThreadRegistry).
using System.Runtime.CompilerServices;

namespace SlabGen;

internal static unsafe class PerThreadBlock
{
    public const int CookieIndex = 0;
    public const int BusyIndex = 1;
    public const int FloorIndex = 2;
    public const int CapacityIndex = 3;
    public const int LimitIndex = 4;
    public const int InterruptDepthIndex = 5;
    public const int CountIndex = 6;
    public const int HeaderWords = 7;

    /// <summary>Floor while a drain holds the block: no count passes <c>count &gt;= Floor</c>.</summary>
    public const nint Held = int.MaxValue;

    /// <summary>Floor once the block's owner (a cache or an allocator) is gone: the block stays shut for good.</summary>
    public const nint Dead = int.MaxValue - 1;

    /// <summary>Fills in the common header of a new block of the calling thread.</summary>
    public static void Initialize(nint* block, long cookie, nint limit)
    {
        block[CookieIndex] = (nint)cookie;
        block[LimitIndex] = limit;
        block[CapacityIndex] = limit;
        block[InterruptDepthIndex] = (nint)ThreadSlots.InterruptDepthWord;
    }

    /// <summary>The one ownership check: whether <paramref name="block"/> (null allowed) belongs to the owner with <paramref name="cookie"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsOwnedBy(nint* block, long cookie) => block != null && block[CookieIndex] == (nint)cookie;

    /// <summary>Owner side: marks the start of an operation on the thread's own block. Plain stores on x64 and Arm64 (stlr).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void BeginOperation(nint* block) => Volatile.Write(ref block[BusyIndex], 1);

    /// <summary>Owner side: marks the end of an operation; everything it read and wrote is ordered before.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void EndOperation(nint* block) => Volatile.Write(ref block[BusyIndex], 0);

    /// <summary>
    /// Owner side, slow paths: begins an operation once no drain holds the block (waiting while one does, which
    /// takes as long as the holder copies the block out). False when the block is dead; then nothing is begun.
    /// Call it holding no lock: a holder never needs one while it holds.
    /// </summary>
    public static bool Enter(nint* block)
    {
        SpinWait spinner = default;
        while (true)
        {
            BeginOperation(block);
            nint floor = Volatile.Read(ref block[FloorIndex]);
            if (floor == 0)
            {
                return true;
            }

            EndOperation(block);
            if (floor == Dead)
            {
                return false;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Owner side, slow paths: <see cref="Enter"/> that gives up instead of waiting (GfpFlags.Atomic).</summary>
    public static bool TryEnter(nint* block)
    {
        BeginOperation(block);
        if (Volatile.Read(ref block[FloorIndex]) == 0)
        {
            return true;
        }

        EndOperation(block);
        return false;
    }

    /// <summary>Holder side: shuts the block to its owner's operations (they see it before or after the barrier).</summary>
    public static void BeginHold(nint* block)
    {
        if (Volatile.Read(ref block[FloorIndex]) == Dead)
        {
            return;
        }

        Volatile.Write(ref block[FloorIndex], Held);
        Volatile.Write(ref block[CapacityIndex], 0);
    }

    /// <summary>Holder side, after the process-wide barrier: waits for an operation the owner began before it to end.</summary>
    public static void WaitForOwner(nint* block)
    {
        SpinWait spinner = default;
        while (Volatile.Read(ref block[BusyIndex]) != 0)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Holder side: opens the block again (or leaves a dead block dead).</summary>
    public static void EndHold(nint* block)
    {
        if (Volatile.Read(ref block[FloorIndex]) == Dead)
        {
            return;
        }

        Volatile.Write(ref block[CapacityIndex], block[LimitIndex]);
        Volatile.Write(ref block[FloorIndex], 0);
    }

    /// <summary>Holder side: shuts a held block for good; every later operation of its owner fails.</summary>
    public static void Kill(nint* block)
    {
        Volatile.Write(ref block[CapacityIndex], 0);
        Volatile.Write(ref block[FloorIndex], Dead);
    }
}
