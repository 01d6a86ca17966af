// A thread's own handle on the cache of a [SlabCache] struct, for hot loops (mimalloc's mi_heap_t, Unity's allocator
// handles): `T.ThisThread` reads the generated type's thread static once and keeps a reference to it, so Alloc and
// Free through the handle make no thread-local access at all. On this runtime a thread static is a call into the C
// library's __tls_get_addr (about 1 ns), and the JIT does not hoist that call out of a loop whose body calls the
// allocator's slow paths, so a plain `T.Alloc`/`T.Free` loop pays it on every pair (docs/generator.md, "Hot loops").
//
// Why this is safe: a ref struct cannot leave the stack frame that holds it, so the handle is used only on the thread
// that took it, while that thread lives; the reference it keeps is to that thread's own slot, which the slow paths keep
// naming the thread's block. The block is the same one every other route reaches, so drains, thread exit and the
// statistics see it as always (docs/per-thread.md).
using System.Runtime.CompilerServices;
using SlabGen.CompilerServices;

namespace SlabGen;

/// <summary>
/// The calling thread's handle on the cache of a <see cref="SlabCacheAttribute"/> struct, for hot loops: take it once
/// with the generated <c>T.ThisThread</c>, then <see cref="Alloc"/> and <see cref="Free"/> through it skip the
/// thread-local read that every <c>T.Alloc</c> and <c>T.Free</c> makes. It behaves exactly as those calls do (same
/// objects, checks, handles and exceptions); objects it allocates may be freed anywhere, by any thread.
/// </summary>
/// <remarks>A ref struct: it lives on the stack of the thread that took it and cannot be stored in a field, captured, or
/// used across <see langword="await"/>. Take it again in each method (or each frame) that runs a hot loop.</remarks>
/// <typeparam name="T">The [SlabCache] struct.</typeparam>
public readonly unsafe ref struct SlabThreadCache<T>
    where T : unmanaged
{
    // The one field: a loop holding the handle keeps a single register for it. The cache comes from TypeCache<T>'s
    // static on the slow paths only, and whether handles are checked is a static readonly the JIT folds at tier 1.
    private readonly ref nint _slot;

    internal SlabThreadCache(ref nint slot) => _slot = ref slot;

    /// <summary>The cache this handle allocates from (<c>T.Cache</c>).</summary>
    /// <exception cref="InvalidOperationException">A default handle, not taken through <c>T.ThisThread</c>.</exception>
    public KmemCache<T> Cache
    {
        get
        {
            _ = ref Slot; // a default handle throws, as documented
            return TypeCache<T>.Cache;
        }
    }

    /// <summary>Allocates an object as <c>T.Alloc</c> does, without the thread-local read.</summary>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> may take memory from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <returns>The object's handle, generation-checked when the struct is <see cref="SlabCacheAttribute.Checked"/>.</returns>
    /// <exception cref="SlabOutOfMemoryException">No memory under <paramref name="flags"/>.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context (<see cref="InterruptContext"/>), or a default handle.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SlabRef<T> Alloc(GfpFlags flags = GfpFlags.Kernel)
    {
        T* obj = TypeCache<T>.AllocPointer(ref Slot, flags);
        return TypeCache<T>.HandleOf(obj);
    }

    /// <summary>Allocates an object as <c>T.TryAlloc</c> does: false instead of throwing when no memory is available.</summary>
    /// <param name="obj">The object, or the null handle when it returns false.</param>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> may take memory from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <returns>Whether an object was allocated.</returns>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context (<see cref="InterruptContext"/>), or a default handle.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool TryAlloc(out SlabRef<T> obj, GfpFlags flags = GfpFlags.Kernel)
    {
        T* pointer = TypeCache<T>.TryAllocPointer(ref Slot, flags);
        obj = pointer == null ? default : TypeCache<T>.HandleOf(pointer);
        return pointer != null;
    }

    /// <summary>Frees an object of the cache, allocated on any thread, as <c>T.Free</c> does; the null handle does nothing.</summary>
    /// <param name="obj">The handle; it must not be used afterwards.</param>
    /// <exception cref="ArgumentException">The object is already free (a double free of an unchecked handle).</exception>
    /// <exception cref="ObjectDisposedException">A checked handle whose object was already freed.</exception>
    /// <exception cref="InvalidOperationException">A default handle.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Free(SlabRef<T> obj) => TypeCache<T>.FreeThisThread(ref Slot, obj);

    /// <summary>The thread's slot; a default handle has none and says so instead of dereferencing null.</summary>
    private ref nint Slot
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            if (Unsafe.IsNullRef(ref _slot))
            {
                TypeCache<T>.ThrowDefaultThreadCache();
            }

            return ref _slot;
        }
    }
}
