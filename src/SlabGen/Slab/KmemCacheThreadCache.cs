// The calling thread's handle on one KmemCache, for hot loops: KmemCache.ThisThread() finds (or makes) the thread's array
// cache once, and the handle keeps that object, so Alloc and Free through it skip the thread-local read, the slot-table
// lookup and the cache's cookie test that every KmemCache.Alloc and Free make. The one field keeps the array cache (and
// so its pinned block) alive while the handle lives. A destroyed cache's block is dead, so the handle's fast paths miss
// and the slow paths throw ObjectDisposedException as the cache's own calls do; a debug cache's handle holds a block
// that is shut from the start, so every call takes the checked slow path. A ref struct: it cannot leave the stack of
// the thread that took it (docs/slabs.md, "Hot loops").
using System.Runtime.CompilerServices;

namespace SlabGen;

/// <summary>
/// The calling thread's handle on one <see cref="KmemCache"/>, for hot loops: take it once with
/// <see cref="KmemCache.ThisThread"/>; its <see cref="Alloc"/> and <see cref="Free"/> behave exactly as the cache's own
/// (the same objects, checks and exceptions) without the per-call thread-local read and slot lookup. Objects it allocates
/// may be freed with <see cref="KmemCache.Free"/> or on another thread, and the other way round.
/// </summary>
/// <remarks>A ref struct: it lives on the stack of the thread that took it and cannot be kept in a field, captured, or
/// used across <see langword="await"/>.</remarks>
public readonly unsafe ref struct KmemCacheThreadCache
{
    private readonly ArrayCache _state;

    internal KmemCacheThreadCache(ArrayCache state) => _state = state;

    /// <summary>The cache this handle allocates from.</summary>
    /// <exception cref="InvalidOperationException">A default handle, not taken through <see cref="KmemCache.ThisThread"/>.</exception>
    public KmemCache Cache => State.Cache;

    /// <summary>Allocates one object as <see cref="KmemCache.Alloc"/> does.</summary>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> may grow the cache from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <returns>The object, or <see langword="null"/> when no memory is available under these flags.</returns>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    /// <exception cref="ArgumentException">Kernel and Atomic together, or Zero on a cache with a constructor.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context; a default handle.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void* Alloc(GfpFlags flags = GfpFlags.Kernel)
    {
        ArrayCache state = State;
        void* obj = ArrayCache.TryPop(state.Block, flags);
        return obj != null ? obj : state.Cache.Alloc(flags);
    }

    /// <summary>Frees an object of the cache, allocated on any thread, as <see cref="KmemCache.Free"/> does. <see langword="null"/> does nothing.</summary>
    /// <param name="obj">The object, as the cache's Alloc returned it.</param>
    /// <exception cref="ArgumentException">A pointer from another cache or from no cache, an interior pointer, or an object already free. Nothing is changed.</exception>
    /// <exception cref="InvalidOperationException">A default handle; with <see cref="SlabFlags.RedZone"/>, an overwritten red zone.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Free(void* obj)
    {
        ArrayCache state = State;
        nint* block = state.Block;
        // Every page of the cache's slabs, and no other page, carries its cookie, which the block carries too.
        PageFrame* page = PageAllocator.FrameOf(obj);
        if (SlabPage.Of(page)->Cookie == PerThreadBlock.Header(block)->Cookie
            && ArrayCache.TryFree(block, obj, page))
        {
            return;
        }

        state.Cache.Free(obj);
    }

    private ArrayCache State
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => _state ?? ThrowDefault();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ArrayCache ThrowDefault() =>
        throw new InvalidOperationException("A default KmemCacheThreadCache has no cache: take the handle with cache.ThisThread().");
}
