// The allocation flags every SlabGen allocation takes: the kernel's gfp_t, reduced to what a process needs, and the
// one place that says what they mean (Gfp): every allocation path asks it whether it may sleep and whether the
// flags contradict each other.
using System.Runtime.CompilerServices;

namespace SlabGen;

/// <summary>
/// How an allocation may behave: whether it may sleep (take new memory from the operating system) and
/// what it must do to the memory it returns. The kernel's <c>gfp_t</c>.
/// </summary>
/// <remarks>
/// An allocation may sleep unless <see cref="Atomic"/> is set, as in the kernel, where every GFP mask without
/// __GFP_ATOMIC's "cannot sleep" may reclaim: <c>GfpFlags.Zero</c> alone means <c>Kernel | Zero</c>. With
/// <see cref="Atomic"/> the allocation only uses memory the allocator already holds and fails fast (returns
/// <see langword="null"/>) when there is none. <see cref="Kernel"/> and <see cref="Atomic"/> together are
/// contradictory and are refused.
/// </remarks>
[Flags]
public enum GfpFlags : uint
{
    /// <summary>No flags: may sleep, like <see cref="Kernel"/>. Prefer naming <see cref="Kernel"/>.</summary>
    None = 0,

    /// <summary>
    /// <c>GFP_KERNEL</c>: the allocation may sleep, that is, ask the operating system for a new arena.
    /// Not allowed in interrupt context.
    /// </summary>
    Kernel = 1 << 0,

    /// <summary>
    /// <c>GFP_ATOMIC</c>: the allocation never sleeps. It succeeds from memory already held or returns
    /// <see langword="null"/> at once. Safe in interrupt context (frame loops, audio callbacks).
    /// </summary>
    Atomic = 1 << 1,

    /// <summary><c>__GFP_ZERO</c>: the returned memory is zero-filled.</summary>
    Zero = 1 << 8,

    /// <summary>
    /// <c>__GFP_NOWARN</c>: a failure is expected and handled by the caller; it is not counted in the
    /// allocator's failure statistics (<see cref="PageAllocator.FailedAllocations"/>).
    /// </summary>
    NoWarn = 1 << 9,
}

/// <summary>What GfpFlags mean, in one place: every allocation path asks here.</summary>
internal static unsafe class Gfp
{
    public const GfpFlags KernelAndAtomic = GfpFlags.Kernel | GfpFlags.Atomic;

    /// <summary>Whether an allocation with <paramref name="flags"/> may sleep (take memory from the OS): anything without Atomic.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool MaySleep(GfpFlags flags) => (flags & GfpFlags.Atomic) == 0;

    /// <summary>
    /// Whether a fast path may serve <paramref name="flags"/> without looking further: Atomic, or flags that only say
    /// "may sleep" (Kernel or none) outside interrupt context; NoWarn is ignored. Zero, contradictions and a sleeping
    /// allocation inside interrupt context go to the slow path, which handles or refuses them. A constant folds.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static bool FastPathServes(GfpFlags flags, int* interruptDepth)
    {
        GfpFlags mode = flags & ~GfpFlags.NoWarn;
        return mode == GfpFlags.Atomic || ((mode & ~GfpFlags.Kernel) == 0 && (*interruptDepth == 0 || !InterruptContext.ChecksEnabled));
    }

    /// <summary>
    /// The slow paths' checks, before anything changes: a contradiction, and a sleeping allocation in interrupt
    /// context. The message names the call as the kernel would print it: <paramref name="call"/> of the cache
    /// <paramref name="cache"/>, or of a block of <paramref name="order"/>; it is built only when it throws.
    /// </summary>
    /// <exception cref="ArgumentException">Kernel and Atomic together.</exception>
    /// <exception cref="InvalidOperationException">A sleeping allocation in interrupt context.</exception>
    public static void Check(GfpFlags flags, string call, string? cache, int order = 0)
    {
        if ((flags & KernelAndAtomic) == KernelAndAtomic)
        {
            throw new ArgumentException("GfpFlags.Kernel (may sleep) and GfpFlags.Atomic (never sleeps) contradict each other.", nameof(flags));
        }

        if (MaySleep(flags) && InterruptContext.MustNotSleep)
        {
            InterruptContext.ThrowSleepingInInterrupt(
                $"{call}({cache ?? $"order {order}"}, GfpFlags.{flags.ToString().Replace(", ", " | GfpFlags.", StringComparison.Ordinal)})",
                InterruptContext.AtomicAdvice);
        }
    }
}
