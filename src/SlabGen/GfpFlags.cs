// The allocation flags every SlabGen allocation takes: the kernel's gfp_t, reduced to what a process needs.
namespace SlabGen;

/// <summary>
/// How an allocation may behave: whether it may sleep (take new memory from the operating system) and
/// what it must do to the memory it returns. The kernel's <c>gfp_t</c>.
/// </summary>
/// <remarks>
/// An allocation may sleep if and only if <see cref="Kernel"/> is set. Without it the allocation only uses
/// memory the allocator already holds and fails fast (returns <see langword="null"/>) when there is none.
/// <see cref="Kernel"/> and <see cref="Atomic"/> together are contradictory and are refused.
/// </remarks>
[Flags]
public enum GfpFlags : uint
{
    /// <summary>No flags: never sleeps, like <see cref="Atomic"/>. Prefer naming <see cref="Atomic"/>.</summary>
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
