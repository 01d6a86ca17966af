// The calling thread's handle on the kmalloc caches, for hot loops: Kmem.ThisThread reads the thread's table of array
// caches once (a thread static: a call into __tls_get_addr on Linux) and keeps its address, which never changes for the
// thread's life, so Kmalloc and Kfree through the handle make no thread-local access. Its entries fill in as the
// thread first uses each size class, through the same slow paths as Kmem's own calls, so the handle sees them.
// A ref struct: it cannot leave the stack of the thread that took it (docs/kmalloc.md, "Hot loops").
using System.Runtime.CompilerServices;

namespace SlabGen;

/// <summary>
/// The calling thread's handle on the kmalloc caches, for hot loops: take it once with <see cref="Kmem.ThisThread"/>;
/// its calls behave exactly as <see cref="Kmem.Kmalloc"/>, <see cref="Kmem.Kzalloc"/> and <see cref="Kmem.Kfree"/>
/// (the same memory, checks and exceptions) without the thread-local read each of those makes. Memory it allocates
/// may be freed with <see cref="Kmem.Kfree"/> or on another thread, and the other way round.
/// </summary>
/// <remarks>A ref struct: it lives on the stack of the thread that took it and cannot be kept in a field, captured, or
/// used across <see langword="await"/>. A default handle works, through the slow paths.</remarks>
public readonly unsafe ref struct KmallocThreadCache
{
    private readonly nint* _blocks;

    internal KmallocThreadCache(nint* blocks) => _blocks = blocks;

    /// <summary>Allocates <paramref name="size"/> bytes as <see cref="Kmem.Kmalloc"/> does.</summary>
    /// <param name="size">How many bytes.</param>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> (the default) may take memory from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <returns>The memory, or <see langword="null"/> when none is available or above 4 MiB.</returns>
    /// <exception cref="ArgumentException"><paramref name="flags"/> has both <see cref="GfpFlags.Kernel"/> and <see cref="GfpFlags.Atomic"/>.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context (<see cref="InterruptContext"/>).</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void* Kmalloc(nuint size, GfpFlags flags = GfpFlags.Kernel) => Kmem.KmallocFrom(_blocks, size, flags);

    /// <summary>Allocates zeroed memory as <see cref="Kmem.Kzalloc"/> does.</summary>
    /// <param name="size">How many bytes.</param>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> (the default) may take memory from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <returns>The zeroed memory, or <see langword="null"/> as <see cref="Kmalloc"/> returns it.</returns>
    /// <exception cref="ArgumentException"><paramref name="flags"/> has both <see cref="GfpFlags.Kernel"/> and <see cref="GfpFlags.Atomic"/>.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context (<see cref="InterruptContext"/>).</exception>
    public void* Kzalloc(nuint size, GfpFlags flags = GfpFlags.Kernel) => Kmem.KmallocFrom(_blocks, size, flags | GfpFlags.Zero);

    /// <summary>Frees memory from the kmalloc family as <see cref="Kmem.Kfree"/> does. <see langword="null"/> does nothing.</summary>
    /// <param name="memory">The memory, as the kmalloc family returned it (on any thread).</param>
    /// <exception cref="ArgumentException">The memory is not from kmalloc, is an interior pointer, or is already free. Nothing is changed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Kfree(void* memory) => Kmem.KfreeTo(_blocks, memory);
}
