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

    /// <summary>Whether the calling thread is inside an interrupt-context scope.</summary>
    public static bool IsActive => ThreadSlots.InterruptDepth != 0;

    /// <summary>Enters interrupt context on the calling thread until the returned scope is disposed. Scopes nest.</summary>
    public static Scope Enter() => new(++ThreadSlots.InterruptDepth);

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
            ThrowSleepingInInterrupt(operation);
        }
    }

    /// <summary>Whether the checks are on and the calling thread is in interrupt context. Build messages only after this.</summary>
    internal static bool MustNotSleep => ChecksEnabled && ThreadSlots.InterruptDepth != 0;

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static void ThrowSleepingInInterrupt(string operation) =>
        throw new InvalidOperationException(
            $"BUG: sleeping function called from invalid context at {AllocationSite.Capture()}: {operation} may sleep, " +
            $"but the thread is in interrupt context (depth {ThreadSlots.InterruptDepth}). Use GfpFlags.Atomic, " +
            "or do this outside the InterruptContext scope.");

    /// <summary>An interrupt-context scope; dispose it on the thread that entered it, innermost first.</summary>
    public readonly struct Scope : IDisposable, IEquatable<Scope>
    {
        private readonly int _depth;

        internal Scope(int depth) => _depth = depth;

        /// <summary>Leaves this scope.</summary>
        /// <exception cref="InvalidOperationException">Scopes are left out of order, twice, or on another thread.</exception>
        public void Dispose()
        {
            if (ThreadSlots.InterruptDepth != _depth || _depth == 0)
            {
                throw new InvalidOperationException(
                    $"InterruptContext scope of depth {_depth} left while the thread is at depth {ThreadSlots.InterruptDepth}: " +
                    "scopes must be left once, innermost first, on the thread that entered them.");
            }

            ThreadSlots.InterruptDepth = _depth - 1;
        }

        /// <inheritdoc/>
        public bool Equals(Scope other) => _depth == other._depth;

        /// <inheritdoc/>
        public override bool Equals(object? obj) => obj is Scope other && Equals(other);

        /// <inheritdoc/>
        public override int GetHashCode() => _depth;

        /// <summary>Whether two scopes have the same depth.</summary>
        public static bool operator ==(Scope left, Scope right) => left.Equals(right);

        /// <summary>Whether two scopes differ in depth.</summary>
        public static bool operator !=(Scope left, Scope right) => !left.Equals(right);
    }
}

/// <summary>
/// Declares that a method (or every method of a type) runs in interrupt context and must not sleep: the
/// SlabGen analyzers report any call in it that may sleep (SLAB1xx) as a compile-time error.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Class | AttributeTargets.Struct | AttributeTargets.Constructor, Inherited = false)]
public sealed class InterruptContextAttribute : Attribute;

/// <summary>
/// Declares that a method may sleep (block, or take memory from the OS): the SlabGen analyzers refuse calls
/// to it from interrupt context.
/// </summary>
[AttributeUsage(AttributeTargets.Method | AttributeTargets.Constructor, Inherited = false)]
public sealed class MaySleepAttribute : Attribute;
