// The block every piece of per-thread state lives in (a thread's page list, a thread's array cache of one slab
// cache), and the protocol that lets any thread take what a live thread's block holds while the owner's fast path
// pays for no lock, no atomic instruction and no extra store. The whole mechanism: docs/per-thread.md.
//
// Layout (pinned words; the first HeaderWords are the same for every kind of block):
//   [Cookie][Busy][State][Capacity][Limit][InterruptDepth*][Count][kind-specific words …]
//   Cookie          the owner's cookie, never reused: the one ownership check (IsOwnedBy).
//   Busy            written by the owning thread only, on its slow paths: 1 inside a slow-path step, else 0.
//   State           Open (0); Held while a drain copies the block; Taken after a drain until the owner has
//                   caught up with it (Reconcile); Dead once the block's owner (a cache, an allocator) is gone;
//                   Armed when the sampler wants the owner's next pop to miss (Open→Armed by compare-exchange, any
//                   thread; Armed→Open by the owner's slow path). A pop that reads Armed undoes its Count store as
//                   one that reads Held does, which is safe for the reason below whenever a drain begins.
//   Capacity        how much the block may hold: Limit while open, 0 otherwise.
//   Limit           the configured capacity.
//   InterruptDepth* the owning thread's interrupt-context depth word (InterruptContext), so a fast path tests it
//                   without a second thread-local access.
//   Count           how much the block holds (array cache: objects on its stack; page list: pages, and a count per order).
// BlockHeader is this header as an explicit-layout struct; the kind-specific words follow it (ArrayCache.cs,
// PerThreadPageList.cs).
//
// The fast paths (ArrayCache.TryPop/TryPush, PerThreadPageList.TryPop/TryPush):
//   pop:  c = Count; Count = c - 1 (release); if State == Open take entry c - 1, else Count = c (undo) and miss
//   push: c = Count; if c < Capacity: entry c = x; Count = c + 1 (release), else miss
// A drain (a holder) never writes Count or an entry of a live thread's block. It takes the entries below the Count it
// reads and records that Count (the state's "seen" mark); the owner's next slow path drops the taken entries and
// reopens the block (Reconcile). Why the two never hand out one object twice:
//   holder: State = Held; Capacity = 0;  Interlocked.MemoryBarrierProcessWide();  wait while Busy;  read Count …
// The process-wide barrier (membarrier on Linux, FlushProcessWriteBuffers on Windows) runs a full fence on every
// processor that runs a thread of the process. A pop stores Count before it reads State, so if it read Open, its
// store was before the barrier and the holder's read sees the decremented Count: the popped entry is not taken. If
// it read Held, it undoes its store; whether the holder saw c or c - 1, Reconcile leaves exactly the entries the
// holder did not take. A push needs no such order: its entry is above any Count the holder can read unless the
// holder read the incremented Count, and then (release) it also sees the entry and takes it. This is an asymmetric
// Dekker handshake (Dice, Huang and Yang, "Asymmetric Dekker Synchronization", 2001) with the owner's flag store
// folded into its own Count store; liburcu's membarrier flavour has the same shape. It relies on the JIT keeping a
// volatile store before a later volatile load, which RyuJIT does (it never reorders volatile accesses).
//
// The owner's slow paths change several words (loading or unloading a whole magazine), so they announce
// themselves with Busy (plain stores, the same handshake) and a holder waits while Busy is set. Slow-path steps are
// a few dozen instructions with no call, lock or wait, so the holder waits at most until a preempted owner runs.
// Holders take a state's HoldLock for the whole hold; the owner takes it only to reconcile after a drain.
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>The header every per-thread block starts with: the layout above, word for word (as <see cref="PageFrame"/> is a page's).</summary>
[StructLayout(LayoutKind.Explicit, Size = PerThreadBlock.HeaderWords * sizeof(long))]
internal unsafe struct BlockHeader
{
    /// <summary>The owner's cookie, never reused: the one ownership check.</summary>
    [FieldOffset(PerThreadBlock.CookieIndex * sizeof(long))] public nint Cookie;

    /// <summary>1 inside an owner's slow-path step, else 0; written by the owning thread only.</summary>
    [FieldOffset(PerThreadBlock.BusyIndex * sizeof(long))] public nint Busy;

    /// <summary>Open, Held, Taken or Dead (<see cref="PerThreadBlock.Open"/> and the constants after it).</summary>
    [FieldOffset(PerThreadBlock.StateIndex * sizeof(long))] public nint State;

    /// <summary>How much the block may hold: <see cref="Limit"/> while open, 0 otherwise.</summary>
    [FieldOffset(PerThreadBlock.CapacityIndex * sizeof(long))] public nint Capacity;

    /// <summary>The configured capacity.</summary>
    [FieldOffset(PerThreadBlock.LimitIndex * sizeof(long))] public nint Limit;

    /// <summary>The owning thread's interrupt-context depth word.</summary>
    [FieldOffset(PerThreadBlock.InterruptDepthIndex * sizeof(long))] public int* InterruptDepth;

    /// <summary>How much the block holds: objects on an array cache's stack, pages on a page list.</summary>
    [FieldOffset(PerThreadBlock.CountIndex * sizeof(long))] public nint Count;
}

internal static unsafe class PerThreadBlock
{
    public const int CookieIndex = 0;
    public const int BusyIndex = 1;
    public const int StateIndex = 2;
    public const int CapacityIndex = 3;
    public const int LimitIndex = 4;
    public const int InterruptDepthIndex = 5;
    public const int CountIndex = 6;
    public const int HeaderWords = 7;

    /// <summary>State of an open block: every fast path may proceed.</summary>
    public const nint Open = 0;

    /// <summary>State while a drain copies the block.</summary>
    public const nint Held = 1;

    /// <summary>State after a drain took the block's contents, until the owner's next slow path reconciles.</summary>
    public const nint Taken = 2;

    /// <summary>State once the block's owner (a cache or an allocator) is gone: the block stays shut for good.</summary>
    public const nint Dead = 3;

    /// <summary>
    /// State of an open block that another thread armed (sampled allocations, Slab/Sampling/): the owner's next pop
    /// misses as it would on a held block, and its slow path opens the block again (<see cref="Disarm"/>). Pushes do not
    /// read the state, and a drain overwrites it as it overwrites Open.
    /// </summary>
    public const nint Armed = 4;

    /// <summary>The header of <paramref name="block"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static BlockHeader* Header(nint* block) => (BlockHeader*)block;

    /// <summary>Fills in the common header of a new block of the calling thread.</summary>
    public static void Initialize(nint* block, long cookie, nint limit)
    {
        Header(block)->Cookie = (nint)cookie;
        Header(block)->Limit = limit;
        Header(block)->Capacity = limit;
        Header(block)->InterruptDepth = ThreadSlots.InterruptDepthWord;
    }

    /// <summary>The one ownership check: whether <paramref name="block"/> (null allowed) belongs to the owner with <paramref name="cookie"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsOwnedBy(nint* block, long cookie) => block != null && Header(block)->Cookie == (nint)cookie;

    /// <summary>Whether the block is open: read after the owner's Count store in a pop (the handshake's load).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool IsOpen(nint* block) => Volatile.Read(ref Header(block)->State) == Open;

    /// <summary>Owner side, slow paths: marks the start of a slow-path step.</summary>
    public static void BeginStep(nint* block) => Volatile.Write(ref Header(block)->Busy, 1);

    /// <summary>Owner side, slow paths: marks the end of a slow-path step; everything it did is ordered before.</summary>
    public static void EndStep(nint* block) => Volatile.Write(ref Header(block)->Busy, 0);

    /// <summary>Holder side, under the state's HoldLock: shuts the block to its owner's operations.</summary>
    public static void BeginHold(nint* block)
    {
        if (Volatile.Read(ref Header(block)->State) == Dead)
        {
            return;
        }

        Volatile.Write(ref Header(block)->State, Held);
        Volatile.Write(ref Header(block)->Capacity, 0);
    }

    /// <summary>Holder side, after the process-wide barrier: waits for a slow-path step the owner began before it.</summary>
    public static void WaitForOwner(nint* block)
    {
        SpinWait spinner = default;
        while (Volatile.Read(ref Header(block)->Busy) != 0)
        {
            spinner.SpinOnce(sleep1Threshold: -1);
        }
    }

    /// <summary>Holder side: the contents are taken; the owner reconciles on its next slow path (a dead block stays dead).</summary>
    public static void EndHold(nint* block)
    {
        if (Volatile.Read(ref Header(block)->State) != Dead)
        {
            Volatile.Write(ref Header(block)->State, Taken);
        }
    }

    /// <summary>Owner side, under the HoldLock after reconciling: opens the block again.</summary>
    public static void Reopen(nint* block)
    {
        Volatile.Write(ref Header(block)->Capacity, Header(block)->Limit);
        Volatile.Write(ref Header(block)->State, Open);
    }

    /// <summary>Any thread: arms an open block, so that its owner's next pop misses; false when it is not open.</summary>
    public static bool TryArm(nint* block) => Interlocked.CompareExchange(ref Header(block)->State, Armed, Open) == Open;

    /// <summary>Owner side: opens an armed block again; false when it was not armed (open, or a drain has it).</summary>
    public static bool Disarm(nint* block) => Interlocked.CompareExchange(ref Header(block)->State, Open, Armed) == Armed;

    /// <summary>Holder side: shuts a held block for good; every later operation of its owner fails.</summary>
    public static void Kill(nint* block)
    {
        Volatile.Write(ref Header(block)->Capacity, 0);
        Volatile.Write(ref Header(block)->State, Dead);
    }
}
