// The states of one owner, one per thread that used it, and the drains over them. A drain takes what threads
// hold back to the owner: the calling thread's state in a slow-path step of its own, every other thread's
// through a hold (PerThreadBlock.cs), all holds of a drain behind one process-wide barrier. A thread that has
// exited is drained the same way and then forgotten; ThreadExitWatch reaps such threads after the next GC, and
// every registration and drain reaps them too.
//
// Locks: a registry's lock guards its list only and is a leaf. s_holdLock makes holders take turns, then each
// state's HoldLock is taken in list order; while they are held only block words are copied (no other lock is
// taken). What was taken is given back after all are released, under the owner's own locks.
namespace SlabGen;

/// <summary>Which threads' states a drain reaches.</summary>
internal enum DrainScope
{
    /// <summary>Threads that have exited.</summary>
    Exited,

    /// <summary>The calling thread and threads that have exited, without waiting for anything (GfpFlags.Atomic).</summary>
    OwnAndExited,

    /// <summary>Every thread, live ones included: may wait for a preempted owner to finish an operation.</summary>
    All,

    /// <summary>Threads whose states took no slow path since the last such drain, and exited ones (memory pressure).</summary>
    Idle,
}

internal abstract unsafe class PerThreadRegistry
{
    private static readonly Lock s_holdLock = new();
    private static readonly Lock s_allLock = new();
    private static readonly List<PerThreadRegistry> s_all = [];

    /// <summary>Drains the exited threads of every registry (ThreadExitWatch, after a thread's exit).</summary>
    public static void ReapEverywhere()
    {
        PerThreadRegistry[] registries;
        lock (s_allLock)
        {
            registries = [.. s_all];
        }

        foreach (PerThreadRegistry registry in registries)
        {
            try
            {
                registry.Drain(DrainScope.Exited);
            }
            catch (ObjectDisposedException)
            {
                // The owner's page allocator was disposed under it (misuse): there is nothing to give back to, and a
                // finalizer must not take the process down for it.
            }
        }
    }

    private int _drainsInFlight;
    private int _drainGeneration;

    /// <summary>Drains the chosen threads' states.</summary>
    public abstract void Drain(DrainScope scope);

    /// <summary>
    /// Marks a drain of this owner's parked objects as under way (<see cref="Drain"/> does it; the owner does it
    /// around emptying its own shared stores), so <see cref="ReadQuiescent"/> can tell a count read during one.
    /// </summary>
    public void BeginDrain()
    {
        Interlocked.Increment(ref _drainsInFlight);
        Interlocked.Increment(ref _drainGeneration);
    }

    /// <inheritdoc cref="BeginDrain"/>
    public void EndDrain()
    {
        Interlocked.Increment(ref _drainGeneration);
        Interlocked.Decrement(ref _drainsInFlight);
    }

    /// <summary>
    /// Reads a value that a drain moves from one count to another (live = active − cached), retrying until no drain
    /// overlapped the read; after many tries it settles for the last read (drains that never stop).
    /// </summary>
    public long ReadQuiescent(Func<long> read)
    {
        SpinWait spinner = default;
        long value = 0;
        for (int attempt = 0; attempt < 1_000; attempt++)
        {
            int generation = Volatile.Read(ref _drainGeneration);
            if (Volatile.Read(ref _drainsInFlight) == 0)
            {
                value = read();
                if (Volatile.Read(ref _drainGeneration) == generation)
                {
                    return value;
                }
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        return value;
    }

    protected static void Track(PerThreadRegistry registry)
    {
        lock (s_allLock)
        {
            s_all.Add(registry);
        }
    }

    protected static void Untrack(PerThreadRegistry registry)
    {
        lock (s_allLock)
        {
            s_all.Remove(registry);
        }
    }

    /// <summary>
    /// Takes the contents of <paramref name="states"/> out of their blocks and gives them back to their owner.
    /// Returns the states whose contents were taken; with <paramref name="mayWait"/> false, live threads' states
    /// other than the caller's are skipped, and so is everything when another drain is under way. With
    /// <paramref name="kill"/>, the blocks stay shut for good (their owner is going away).
    /// </summary>
    protected static List<PerThreadState> DrainStates(List<PerThreadState> states, bool mayWait, bool kill = false)
    {
        Thread current = Thread.CurrentThread;
        var taken = new List<PerThreadState>(states.Count);
        var others = new List<PerThreadState>(states.Count);
        foreach (PerThreadState state in states)
        {
            if (state.Thread != current || kill)
            {
                others.Add(state);
                continue;
            }

            // The calling thread's own state: a slow-path step of its owner, like any other.
            bool entered = mayWait ? state.Enter() : state.TryEnter();
            if (entered)
            {
                state.TakeAllAsOwner();
                state.Exit();
                taken.Add(state);
            }
        }

        if (!mayWait)
        {
            others.RemoveAll(static state => state.Thread.IsAlive);
        }

        if (others.Count != 0)
        {
            HoldAndTake(others, mayWait, kill, taken);
        }

        foreach (PerThreadState state in taken)
        {
            state.ReturnTaken();
        }

        return taken;
    }

    private static void HoldAndTake(List<PerThreadState> others, bool mayWait, bool kill, List<PerThreadState> taken)
    {
        if (mayWait)
        {
            s_holdLock.Enter();
        }
        else if (!s_holdLock.TryEnter())
        {
            return;
        }

        int locked = 0;
        try
        {
            bool live = false;
            foreach (PerThreadState state in others)
            {
                state.HoldLock.Enter();
                locked++;
                live |= state.Thread.IsAlive;
                PerThreadBlock.BeginHold(state.Block);
            }

            // Exited threads run no more operations; live ones need the barrier (PerThreadBlock.cs).
            if (live)
            {
                Interlocked.MemoryBarrierProcessWide();
            }

            foreach (PerThreadState state in others)
            {
                PerThreadBlock.WaitForOwner(state.Block);
                state.TakeAllAsHolder();
                if (kill)
                {
                    PerThreadBlock.Kill(state.Block);
                }
                else
                {
                    PerThreadBlock.EndHold(state.Block);
                }

                taken.Add(state);
            }
        }
        finally
        {
            for (int i = 0; i < locked; i++)
            {
                others[i].HoldLock.Exit();
            }

            s_holdLock.Exit();
        }
    }
}

/// <summary>The per-thread states of one owner.</summary>
internal sealed class PerThreadRegistry<TState> : PerThreadRegistry
    where TState : PerThreadState
{
    private readonly Lock _lock = new();
    private readonly List<TState> _states = [];
    private bool _closed;

    public PerThreadRegistry() => Track(this);

    /// <summary>Registers the calling thread's new state, after reaping threads that have exited.</summary>
    /// <returns>False when the owner is gone (<see cref="Close"/>); the state is not registered.</returns>
    public bool Add(TState state)
    {
        Drain(DrainScope.Exited);
        lock (_lock)
        {
            if (_closed)
            {
                return false;
            }

            _states.Add(state);
            return true;
        }
    }

    /// <summary>The registered states now (threads that have exited included, until reaped).</summary>
    public TState[] Snapshot()
    {
        lock (_lock)
        {
            return [.. _states];
        }
    }

    /// <inheritdoc/>
    /// <remarks>Allocates nothing when no state is chosen: a cache's every new slab reaps exited threads this way.</remarks>
    public override void Drain(DrainScope scope)
    {
        List<PerThreadState>? chosen = null;
        List<PerThreadState>? exitedBefore = null;
        Thread current = Thread.CurrentThread;
        lock (_lock)
        {
            foreach (TState state in _states)
            {
                bool exited = !state.Thread.IsAlive;
                bool pick = scope switch
                {
                    DrainScope.Exited => exited,
                    DrainScope.OwnAndExited => exited || state.Thread == current,
                    DrainScope.Idle => exited || Interlocked.Exchange(ref state.SlowPaths, 0) == 0,
                    _ => true,
                };
                if (pick)
                {
                    (chosen ??= []).Add(state);
                    if (exited)
                    {
                        (exitedBefore ??= []).Add(state);
                    }
                }
            }
        }

        if (chosen is null)
        {
            return;
        }

        BeginDrain();
        try
        {
            List<PerThreadState> drained = DrainStates(chosen, mayWait: scope != DrainScope.OwnAndExited);
            if (exitedBefore is not null)
            {
                // Only states whose thread had exited before the drain began are surely empty for good.
                exitedBefore.RemoveAll(state => !drained.Contains(state));
                Forget(exitedBefore);
            }
        }
        finally
        {
            EndDrain();
        }
    }

    /// <summary>The owner is going away: every state is drained, killed and forgotten; later registrations fail.</summary>
    public void Close()
    {
        TState[] states;
        lock (_lock)
        {
            _closed = true;
            states = [.. _states];
            _states.Clear();
        }

        BeginDrain();
        DrainStates(new List<PerThreadState>(states), mayWait: true, kill: true);
        EndDrain();
        Untrack(this);
    }

    /// <summary>
    /// Forgets states drained after their thread had exited: their blocks are empty and nobody reaches them again.
    /// (A thread that exits during a drain may have put more into its block after the drain took it: a later drain
    /// reaps it.)
    /// </summary>
    private void Forget(List<PerThreadState> drainedAfterExit)
    {
        lock (_lock)
        {
            foreach (PerThreadState state in drainedAfterExit)
            {
                _states.Remove((TState)state);
            }
        }
    }
}
