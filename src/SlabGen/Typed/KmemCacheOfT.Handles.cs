// What the [SlabCache] generator's code calls: a typed cache for one struct type that lives as long as the
// process, and alloc/free through SlabRef<T> handles with a fast path that reads the thread's array cache
// through the generated type's own thread static (one TLS load, no table, no cookie, no slab lookup).
//
// Why no cookie or slab check on that path: the cache is never destroyed, so the block a thread static names
// stays this cache's block for the thread's life; and only this cache's Alloc makes its handles, so a handle
// passed to Free is one of its objects (debug caches take the checked slow path every time). The block is the same
// one the slot table holds, so drains reach it like any other (docs/per-thread.md).
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace SlabGen;

public sealed unsafe partial class KmemCache<T>
{
    /// <summary>The cache of the [SlabCache] struct <typeparamref name="T"/>; the slow paths reach it without an argument.</summary>
    private static KmemCache<T>? s_typeCache;

    private static ObjectConstructor<T>? s_typeConstructor;

    private static readonly Lock s_typeCacheLock = new();

    /// <summary>
    /// For generated code: creates the cache of a <see cref="SlabCacheAttribute"/> struct. The cache lives as long
    /// as the process (<see cref="Destroy"/> refuses), so the generated per-thread fast path never outlives it.
    /// </summary>
    /// <param name="name">The name slabinfo shows.</param>
    /// <param name="flags">Alignment and debug options.</param>
    /// <param name="align">The alignment; 0 for 64 under <see cref="SlabFlags.HwCacheAlign"/>, else the natural alignment.</param>
    /// <param name="checkedHandles">Whether handles are generation-checked (<see cref="SlabCacheAttribute.Checked"/>).</param>
    /// <param name="constructor">The <see cref="SlabConstructorAttribute"/> method, or null.</param>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> already has its cache.</exception>
    /// <returns>The type's cache, which lives as long as the process.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    public static KmemCache<T> CreateForType(string name, SlabFlags flags, int align, bool checkedHandles, ObjectConstructor<T>? constructor) =>
        CreateForType(name, flags, align, checkedHandles, constructor, PageAllocator.Shared);

    /// <summary><see cref="CreateForType(string, SlabFlags, int, bool, ObjectConstructor{T})"/> over a given page allocator (tests).</summary>
    internal static KmemCache<T> CreateForType(string name, SlabFlags flags, int align, bool checkedHandles, ObjectConstructor<T>? constructor, PageAllocator pages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(align);
        lock (s_typeCacheLock)
        {
            if (s_typeCache is not null)
            {
                throw new InvalidOperationException($"{typeof(T).Name} already has its cache, '{s_typeCache.Name}'.");
            }

            s_typeConstructor = constructor;
            delegate*<T*, void> ctor = constructor is null ? null : &RunTypeConstructor;
            nuint alignment = align != 0 ? (nuint)align : (flags & SlabFlags.HwCacheAlign) != 0 ? 64 : NaturalAlignment;
            nuint size = checkedHandles ? SlabRef<T>.GenerationOffset + sizeof(ulong) : (nuint)sizeof(T);
            var cache = KmemCache.Create(name, size, alignment, flags, (delegate*<void*, void>)ctor, pages);
            cache.MakeTypeCache(keepSlabs: checkedHandles);
            s_typeCache = new KmemCache<T>(cache);
            return s_typeCache;
        }
    }

    /// <summary>
    /// For generated code, on the cache <see cref="CreateForType(string, SlabFlags, int, bool, ObjectConstructor{T})"/>
    /// returned: allocates an object through the thread's array cache named by <paramref name="threadCache"/>.
    /// </summary>
    /// <param name="threadCache">The generated type's thread static: this thread's array cache of this cache, or 0.</param>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> may grow the cache from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <exception cref="SlabOutOfMemoryException">No memory under these flags; the message names the cache, the flags and the cap.</exception>
    /// <returns>The object's handle.</returns>
    [EditorBrowsable(EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SlabRef<T> AllocRef(ref nint threadCache, GfpFlags flags) => new(AllocPointer(ref threadCache, flags));

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* AllocPointer(ref nint threadCache, GfpFlags flags)
    {
        T* obj = PopThreadCache(threadCache, flags);
        return obj != null ? obj : AllocRefSlow(ref threadCache, flags);
    }

    /// <summary>The fast path of both allocation forms: the hottest object of the thread's block, or null (no block yet, empty, or flags that need the slow path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* PopThreadCache(nint threadCache, GfpFlags flags)
    {
        var block = (nint*)threadCache;
        return block == null ? null : (T*)ArrayCache.TryPop(block, flags);
    }

    /// <summary>
    /// For generated code: <see cref="AllocRef"/> that returns the null handle instead of throwing when no memory is
    /// available under <paramref name="flags"/> (the generated <c>TryAlloc</c>/<c>TryNew</c>).
    /// </summary>
    /// <inheritdoc cref="AllocRef"/>
    [EditorBrowsable(EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SlabRef<T> TryAllocRef(ref nint threadCache, GfpFlags flags) => new(TryAllocPointer(ref threadCache, flags));

    /// <summary>For generated code: <see cref="TryAllocRef"/> with a generation-checked handle.</summary>
    /// <inheritdoc cref="AllocRef"/>
    [EditorBrowsable(EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SlabRef<T> TryAllocCheckedRef(ref nint threadCache, GfpFlags flags)
    {
        T* obj = TryAllocPointer(ref threadCache, flags);
        return obj == null ? default : Stamp(obj);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* TryAllocPointer(ref nint threadCache, GfpFlags flags)
    {
        T* obj = PopThreadCache(threadCache, flags);
        return obj != null ? obj : TryAllocRefSlow(ref threadCache, flags);
    }

    /// <summary>
    /// For generated code, on the cache <see cref="CreateForType(string, SlabFlags, int, bool, ObjectConstructor{T})"/>
    /// returned: frees an object through the thread's array cache named by <paramref name="threadCache"/>.
    /// </summary>
    /// <param name="threadCache">The generated type's thread static.</param>
    /// <param name="obj">The handle; the null handle does nothing.</param>
    [EditorBrowsable(EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void FreeRef(ref nint threadCache, SlabRef<T> obj)
    {
        var block = (nint*)threadCache;
        T* pointer = obj.RawPointer;
        if (block != null && pointer != null && ArrayCache.TryPush(block, pointer))
        {
            return;
        }

        FreeRefSlow(ref threadCache, pointer);
    }

    /// <summary>For generated code: <see cref="AllocRef"/> with a generation-checked handle.</summary>
    /// <inheritdoc cref="AllocRef"/>
    [EditorBrowsable(EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public SlabRef<T> AllocCheckedRef(ref nint threadCache, GfpFlags flags)
    {
        return Stamp(AllocPointer(ref threadCache, flags));
    }

    /// <summary>Gives a new object of a checked cache its generation and its handle.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static SlabRef<T> Stamp(T* obj)
    {
        ulong generation = HandleGenerations.Next();
        *SlabRef<T>.GenerationWord(obj) = generation;
        return new SlabRef<T>(obj, generation);
    }

    /// <summary>For generated code: <see cref="FreeRef"/> of a generation-checked handle.</summary>
    /// <inheritdoc cref="FreeRef"/>
    /// <exception cref="ObjectDisposedException">The object was already freed (a double free or a stale handle); nothing is changed.</exception>
    [EditorBrowsable(EditorBrowsableState.Never)]
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void FreeCheckedRef(ref nint threadCache, SlabRef<T> obj)
    {
        T* pointer = obj.RawPointer;
        if (pointer == null)
        {
            return;
        }

        ulong* word = SlabRef<T>.GenerationWord(pointer);
        if (*word != obj.Generation || obj.Generation == 0)
        {
            SlabRef<T>.ThrowFreed("Free");
        }

        *word = 0;
        FreeRef(ref threadCache, obj);
    }

    private static void RunTypeConstructor(T* obj) => s_typeConstructor!(ref *obj);

    /// <summary>Static, so the inlined fast path keeps nothing alive for it: the type cache is <see cref="s_typeCache"/>.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T* AllocRefSlow(ref nint threadCache, GfpFlags flags)
    {
        T* obj = TryAllocRefSlow(ref threadCache, flags);
        if (obj == null)
        {
            s_typeCache!.ThrowOutOfMemory(flags);
        }

        return obj;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T* TryAllocRefSlow(ref nint threadCache, GfpFlags flags)
    {
        KmemCache cache = s_typeCache!.Cache;
        var obj = (T*)cache.Alloc(flags);
        threadCache = (nint)cache.ThreadBlock();
        return obj;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FreeRefSlow(ref nint threadCache, T* obj)
    {
        KmemCache cache = s_typeCache!.Cache;
        cache.Free(obj);
        if (obj != null)
        {
            threadCache = (nint)cache.ThreadBlock();
        }
    }

    [DoesNotReturn]
    private void ThrowOutOfMemory(GfpFlags flags) => throw new SlabOutOfMemoryException(Name, typeof(T).Name, flags, Cache.Pages.MaxBytes);
}
