// Interrupt context at run time: the kernel's in_atomic()/might_sleep(). A thread inside a scope must not
// sleep: every allocation that may take memory from the OS (GfpFlags.Kernel, Vmalloc, Kvmalloc) throws
// with the kernel's message. The depth is a pinned per-thread word (ThreadSlots) that every array-cache block
// points at, so the fast paths test it without another thread-local access.
using System.Runtime.CompilerServices;

namespace SlabGen;

/// <summary>
/// Marks code that must not sleep (frame loops, audio callbacks, latency-critical request paths) at run time,
/// the counterpart of the compile-time <see cref="InterruptContextAttribute"/> analysis.
/// </summary>
/// <remarks>
/// Inside <c>using (InterruptContext.Enter()) { … }</c>, <see cref="Kmem.Vmalloc"/>, <see cref="Kmem.Vzalloc"/>,
/// <see cref="Kmem.Kvmalloc"/> and any allocation with <see cref="GfpFlags.Kernel"/> throw
/// <see cref="InvalidOperationException"/> ("BUG: sleeping function called from invalid context"); use
/// <see cref="GfpFlags.Atomic"/> there. <see cref="Kmem.Vfree"/> is deferred until the next vmalloc-family call
/// outside a scope. The check is one thread-local load; turn it off with the AppContext switch
/// <c>SlabGen.InterruptContext.DisableChecks</c> (for example <c>&lt;RuntimeHostConfigurationOption&gt;</c> in the
/// project file), which the JIT then folds away.
/// </remarks>
public static class InterruptContext
{
    /// <summary>The AppContext switch that turns the run-time check off.</summary>
    public const string DisableChecksSwitch = "SlabGen.InterruptContext.DisableChecks";

    internal static readonly bool ChecksEnabled =
        !(AppContext.TryGetSwitch(DisableChecksSwitch, out bool disabled) && disabled);

    /// <summary>
    /// The AppContext switch that makes leaving an outermost scope throw when the thread allocated managed memory
    /// inside it (the run-time side of the SLAB107 analyzer). Off by default: then the bytes are only counted.
    /// </summary>
    public const string ThrowOnManagedAllocationSwitch = "SlabGen.InterruptContext.ThrowOnManagedAllocation";

    internal static readonly bool ThrowOnManagedAllocation =
        AppContext.TryGetSwitch(ThrowOnManagedAllocationSwitch, out bool throwing) && throwing;

    [ThreadStatic]
    private static long t_lastScopeManagedBytes;

    /// <summary>Managed bytes the sampling pool (Slab/Sampling/) allocated inside the thread's current outermost scope: not the scope's own.</summary>
    [ThreadStatic]
    private static long t_samplerBytes;

    /// <summary>Excuses <paramref name="bytes"/> that the sampling pool allocated (its stack captures and reports) from the thread's scope, if it is in one.</summary>
    internal static void ExcuseSamplerBytes(long bytes)
    {
        if (IsActive)
        {
            t_samplerBytes += bytes;
        }
    }

    /// <summary>
    /// The managed (GC) bytes the calling thread allocated inside its last outermost scope, as
    /// <see cref="GC.GetAllocatedBytesForCurrentThread"/> counts them; 0 before the first. Every outermost scope also
    /// adds what it allocated to the <c>slabgen.interrupt.managed_bytes</c> counter of <see cref="SlabGenMetrics"/>.
    /// </summary>
    public static long LastScopeManagedBytes => t_lastScopeManagedBytes;

    /// <summary>Whether the calling thread is inside an interrupt-context scope.</summary>
    public static bool IsActive => ThreadSlots.InterruptDepth != 0;

    /// <summary>Enters interrupt context on the calling thread until the returned scope is disposed. Scopes nest.</summary>
    /// <remarks>
    /// Interrupt context belongs to the thread: it never flows into tasks, and it does not survive an <c>await</c>
    /// (the SLAB106 analyzer refuses an <c>await</c> inside a scope). A scope disposed on another thread throws and
    /// leaves that thread's depth alone, and the entering thread leaves the scope all the same.
    /// </remarks>
    /// <returns>The scope; dispose it (a <c>using</c>) on this thread to leave interrupt context.</returns>
    public static unsafe Scope Enter()
    {
        int* word = ThreadSlots.InterruptDepthWord;
        int depth = ++*word;
        return new Scope(word, depth, depth == 1 ? GC.GetAllocatedBytesForCurrentThread() : 0);
    }

    /// <summary>
    /// Throws the kernel's "sleeping function called from invalid context" when the calling thread is in
    /// interrupt context (the kernel's <c>might_sleep</c>). For code of your own that may block.
    /// </summary>
    /// <param name="operation">What was about to sleep, for the message.</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void MightSleep(string operation)
    {
        if (MustNotSleep)
        {
            ThrowSleepingInInterrupt(operation, OutsideAdvice);
        }
    }

    /// <summary>Advice for anything that can only sleep.</summary>
    internal const string OutsideAdvice = "Do it outside the InterruptContext scope, or hand it to a thread that may sleep.";

    /// <summary>Advice for an allocation whose flags may sleep.</summary>
    internal const string AtomicAdvice = "Use GfpFlags.Atomic (it never sleeps and fails fast), or allocate outside the InterruptContext scope.";

    /// <summary>Advice for vmalloc and kvmalloc, which always may sleep.</summary>
    internal const string VmallocAdvice =
        "vmalloc always maps new memory from the OS: allocate it before entering the scope, or use Kmalloc(size, GfpFlags.Atomic), " +
        "which serves up to 4 MiB from memory already held.";

    /// <summary><see cref="MightSleep(string)"/> with advice that fits the call.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void MightSleep(string operation, string advice)
    {
        if (MustNotSleep)
        {
            ThrowSleepingInInterrupt(operation, advice);
        }
    }

    /// <summary>Whether the checks are on and the calling thread is in interrupt context. Build messages only after this.</summary>
    internal static bool MustNotSleep => ChecksEnabled && ThreadSlots.InterruptDepth != 0;

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowSleepingInInterrupt(string operation, string advice) =>
        throw new InvalidOperationException(
            $"BUG: sleeping function called from invalid context at {AllocationSite.Capture()}: {operation} may sleep, " +
            $"but the thread is in interrupt context (depth {ThreadSlots.InterruptDepth}). {advice}");

    /// <summary>An interrupt-context scope; dispose it on the thread that entered it, innermost first.</summary>
    public readonly unsafe struct Scope : IDisposable, IEquatable<Scope>
    {
        /// <summary>The entering thread's depth word: pinned for that thread's life, so it is valid from any thread.</summary>
        private readonly int* _word;
        private readonly int _depth;

        /// <summary>The thread's allocated managed bytes when an outermost scope was entered.</summary>
        private readonly long _allocatedAtEntry;

        internal Scope(int* word, int depth, long allocatedAtEntry)
        {
            _word = word;
            _depth = depth;
            _allocatedAtEntry = allocatedAtEntry;
        }

        /// <summary>Leaves this scope.</summary>
        /// <exception cref="InvalidOperationException">
        /// Scopes are left out of order or twice (nothing changes), or on another thread than the one that entered it
        /// (typically after an <c>await</c>): then the calling thread's depth is left alone and the entering thread
        /// leaves the scope, so neither thread stays in interrupt context by mistake. Or, under
        /// <see cref="ThrowOnManagedAllocationSwitch"/>, the thread allocated managed memory inside this outermost
        /// scope (it has left the scope all the same).
        /// </exception>
        public void Dispose()
        {
            if (_word == null)
            {
                throw new InvalidOperationException("A default InterruptContext.Scope was never entered; use InterruptContext.Enter().");
            }

            if (_word != ThreadSlots.InterruptDepthWord)
            {
                // The entering thread's word is written by that thread only, except here: leave its scope if it is still the innermost.
                int restored = Interlocked.CompareExchange(ref *_word, _depth - 1, _depth);
                throw new InvalidOperationException(
                    $"InterruptContext scope of depth {_depth} left on another thread than the one that entered it (after an await?). " +
                    (restored == _depth
                        ? "The entering thread has left the scope; this thread's depth is unchanged. "
                        : $"The entering thread is at depth {restored} now and was left alone. ") +
                    "Interrupt context belongs to a thread: do not await inside a scope.");
            }

            if (*_word != _depth)
            {
                throw new InvalidOperationException(
                    $"InterruptContext scope of depth {_depth} left while the thread is at depth {*_word}: " +
                    "scopes must be left once, innermost first, on the thread that entered them.");
            }

            *_word = _depth - 1;
            if (_depth == 1)
            {
                LeaveOutermost(_allocatedAtEntry);
            }
        }

        /// <summary>Counts what an outermost scope allocated, and throws under the switch; the thread has left the scope already.</summary>
        private static void LeaveOutermost(long allocatedAtEntry)
        {
            long bytes = GC.GetAllocatedBytesForCurrentThread() - allocatedAtEntry - t_samplerBytes;
            t_samplerBytes = 0;
            t_lastScopeManagedBytes = bytes;
            if (bytes <= 0)
            {
                return;
            }

            SlabGenMetrics.RecordInterruptAllocation(bytes);
            if (ThrowOnManagedAllocation)
            {
                throw new InvalidOperationException(
                    $"The thread allocated {bytes} bytes of managed memory inside an InterruptContext scope ({ThrowOnManagedAllocationSwitch} is set): " +
                    "every allocation brings the next GC pause closer. Allocate before the scope, or use a [SlabCache] struct or Kmalloc; " +
                    "the SLAB107 analyzer shows where at compile time.");
            }
        }

        /// <inheritdoc/>
        public bool Equals(Scope other) => _word == other._word && _depth == other._depth && _allocatedAtEntry == other._allocatedAtEntry;

        /// <inheritdoc/>
        public override bool Equals(object? obj) => obj is Scope other && Equals(other);

        /// <inheritdoc/>
        public override int GetHashCode() => _depth;

        /// <summary>Whether two scopes are the same scope: the same thread and depth.</summary>
        /// <param name="left">A scope.</param>
        /// <param name="right">Another scope.</param>
        /// <returns>Whether they are the same scope.</returns>
        public static bool operator ==(Scope left, Scope right) => left.Equals(right);

        /// <summary>Whether two scopes differ in thread or depth.</summary>
        /// <param name="left">A scope.</param>
        /// <param name="right">Another scope.</param>
        /// <returns>Whether they differ.</returns>
        public static bool operator !=(Scope left, Scope right) => !left.Equals(right);
    }
}

/// <summary>
/// Declares that a method (or every method of a type) runs in interrupt context and must not sleep: the
/// SlabGen analyzers report any call in it that may sleep (SLAB1xx) as a compile-time error.
/// </summary>
/// <remarks>
/// On an interface or one of its methods, an abstract or virtual method, or a delegate type, it is a contract:
/// every implementation, override, and lambda or method converted to the delegate type is analysed in interrupt
/// context, and calls through the contract need no further check.
/// </remarks>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Constructor
    | AttributeTargets.Interface | AttributeTargets.Delegate, Inherited = false)]
public sealed class InterruptContextAttribute : Attribute;

/// <summary>
/// Declares that a method may sleep (block, or take memory from the OS): the SlabGen analyzers refuse calls
/// to it from interrupt context.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Constructor, Inherited = false)]
public sealed class MaySleepAttribute : Attribute;

/// <summary>
/// Declares that a method's cost is amortized or cold: it allocates or may block, but rarely (a pool that grows by
/// doubling, a table resized once a level, an error path), so the SlabGen analyzers do not follow calls into it from
/// interrupt context. Chains of SLAB104 (may sleep) and SLAB107 (managed allocation) stop at it, for every caller at
/// once, instead of a suppression at each caller.
/// </summary>
/// <remarks>
/// It changes nothing at run time: inside <see cref="InterruptContext.Enter"/> a sleeping SlabGen call in the method
/// still throws. A method that is itself <see cref="InterruptContextAttribute">[InterruptContext]</see> is still
/// analysed as such, and code in interrupt context that allocates or blocks directly is still reported.
/// </remarks>
/// <param name="reason">Why the cost is amortized or cold, for readers of the code (for example "grows by doubling: at most 20 times a run").</param>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Constructor | AttributeTargets.Property, Inherited = false)]
public sealed class AmortizedAttribute(string reason) : Attribute
{
    /// <summary>Why the method's cost is amortized or cold.</summary>
    public string Reason { get; } = reason;
}
