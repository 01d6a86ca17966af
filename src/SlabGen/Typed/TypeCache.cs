// What the [SlabCache] generator's code calls: the cache of one struct type, made once and living as long as the
// process, and alloc/free through SlabRef<T> handles with a fast path that reads the thread's array cache through
// the generated type's own thread static (one TLS load, no table, no cookie, no slab lookup).
//
// Why no cookie or slab check on that path: a type cache is never destroyed, so the block a thread static names
// stays this cache's block for the thread's life; and only this cache's Alloc makes its handles, so a handle passed
// to Free is one of its objects (debug caches take the checked slow path every time). The block is the same one the
// slot table holds, so drains reach it like any other (docs/per-thread.md). The slow paths refuse a cache that is not
// a type cache: its thread static could outlive it.
//
// Generated code passes its cache (a static readonly field, a constant to the JIT) to every call, so the slow paths
// need no lookup and the struct's static initialisation, which makes the cache, has run before any call.
using System.ComponentModel;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace SlabGen.CompilerServices;

/// <summary>
/// Support for the code the <see cref="SlabCacheAttribute"/> generator writes: the cache of the struct
/// <typeparamref name="T"/> and its handle-based fast paths. Not meant to be called directly, and free to change
/// between versions; use the generated members (<c>T.New</c>, <c>T.Alloc</c>, <c>T.Free</c>, <c>T.Cache</c>).
/// </summary>
/// <typeparam name="T">The [SlabCache] struct.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public static unsafe class TypeCache<T>
    where T : unmanaged
{
    private static KmemCache<T>? s_cache;

    private static ObjectConstructor<T>? s_constructor;

    private static readonly Lock s_lock = new();

    /// <summary>
    /// Creates the cache of <typeparamref name="T"/>, once per process. The cache lives as long as the process
    /// (<see cref="KmemCache.Destroy"/> refuses), so the generated per-thread fast path never outlives it.
    /// </summary>
    /// <param name="name">The name slabinfo shows.</param>
    /// <param name="flags">Alignment and debug options.</param>
    /// <param name="align">The alignment; 0 for 64 under <see cref="SlabFlags.HwCacheAlign"/>, else the natural alignment.</param>
    /// <param name="checkedHandles">Whether handles are generation-checked (<see cref="SlabCacheAttribute.Checked"/>).</param>
    /// <param name="constructor">The <see cref="SlabConstructorAttribute"/> method, or null.</param>
    /// <exception cref="InvalidOperationException"><typeparamref name="T"/> already has its cache.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A negative alignment.</exception>
    /// <returns>The type's cache.</returns>
    public static KmemCache<T> Create(string name, SlabFlags flags, int align, bool checkedHandles, ObjectConstructor<T>? constructor) =>
        Create(name, flags, align, checkedHandles, constructor, null);

    /// <summary><see cref="Create(string, SlabFlags, int, bool, ObjectConstructor{T})"/> over a given page allocator (tests), or null for <see cref="SlabCaches"/>' choice.</summary>
    internal static KmemCache<T> Create(string name, SlabFlags flags, int align, bool checkedHandles, ObjectConstructor<T>? constructor, PageAllocator? pages)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(align);
        lock (s_lock)
        {
            if (s_cache is not null)
            {
                throw new InvalidOperationException($"{typeof(T).Name} already has its cache, '{s_cache.Name}'.");
            }

            pages ??= SlabCaches.TakeFor(typeof(T));
            s_constructor = constructor;
            delegate*<T*, void> ctor = constructor is null ? null : &RunConstructor;
            nuint alignment = align != 0 ? (nuint)align : (flags & SlabFlags.HwCacheAlign) != 0 ? SlabLayout.CacheLine : KmemCache<T>.NaturalAlignment;
            nuint size = checkedHandles ? SlabRef<T>.GenerationOffset + sizeof(ulong) : (nuint)sizeof(T);
            var cache = KmemCache.Create(name, size, alignment, flags, (delegate*<void*, void>)ctor, pages);
            cache.MakeTypeCache(checkedHandles, checkedHandles ? &ForgetHandles : null);
            s_checkedHandles = checkedHandles;
            s_cache = new KmemCache<T>(cache);
            return s_cache;
        }
    }

    /// <summary>The calling thread's handle on <paramref name="cache"/> for hot loops (the generated <c>T.ThisThread</c>).</summary>
    /// <param name="cache">The cache <see cref="Create(string, SlabFlags, int, bool, ObjectConstructor{T})"/> returned.</param>
    /// <param name="threadCache">The generated type's thread static: the handle keeps a reference to it.</param>
    /// <returns>The handle.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="cache"/> is null.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="cache"/> is not the cache <see cref="Create(string, SlabFlags, int, bool, ObjectConstructor{T})"/> made.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SlabThreadCache<T> ThisThread(KmemCache<T> cache, ref nint threadCache)
    {
        if (cache != s_cache || cache is null)
        {
            ThrowNotTheTypeCache(cache);
        }

        return new SlabThreadCache<T>(ref threadCache);
    }

    /// <summary>The type's cache, for <see cref="SlabThreadCache{T}"/>, which keeps no reference of its own.</summary>
    internal static KmemCache<T> Cache
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => s_cache ?? ThrowNoCache();
    }

    /// <summary>Whether the type's handles are generation-checked: set once by Create, before any handle exists.</summary>
    private static bool s_checkedHandles;

    // SlabThreadCache<T>'s entry points: the cache is read from the static on the slow paths only, and whether handles
    // are checked from a static readonly that the JIT folds at tier 1 (first read after Create: only ThisThread makes a
    // usable handle, and it checks that Create has run).

    /// <summary>The fast path of <see cref="SlabThreadCache{T}.Alloc"/>: pop, or the slow path with the type's cache.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T* AllocPointer(ref nint threadCache, GfpFlags flags)
    {
        T* obj = PopThreadCache(threadCache, flags);
        return obj != null ? obj : AllocSlow(Cache, ref threadCache, flags);
    }

    /// <summary>The fast path of <see cref="SlabThreadCache{T}.TryAlloc"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static T* TryAllocPointer(ref nint threadCache, GfpFlags flags)
    {
        T* obj = PopThreadCache(threadCache, flags);
        return obj != null ? obj : TryAllocSlow(Cache, ref threadCache, flags);
    }

    /// <summary>The handle of a new object: stamped with a generation when the type's handles are checked.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static SlabRef<T> HandleOf(T* obj) => Checkedness.Value ? Stamp(obj) : new(obj);

    /// <summary><see cref="SlabThreadCache{T}.Free"/>: <see cref="FreeChecked"/> or <see cref="Free(KmemCache{T}, ref nint, SlabRef{T})"/> as the type's handles are, the cache read on the slow path only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static void FreeThisThread(ref nint threadCache, SlabRef<T> obj)
    {
        T* pointer = obj.RawPointer;
        if (Checkedness.Value && pointer != null)
        {
            ulong* word = SlabRef<T>.GenerationWord(pointer);
            if (*word != obj.Generation || obj.Generation == 0)
            {
                SlabRef<T>.ThrowFreed("Free");
            }

            *word = 0;
        }

        var block = (nint*)threadCache;
        if (block != null && Sampler.MayPush(pointer) && PushThreadCache(block, pointer))
        {
            return;
        }

        FreeSlow(Cache, ref threadCache, pointer);
    }

    /// <summary>
    /// Whether the type's handles are checked, as a constant to the tier-1 JIT. The explicit static constructor makes
    /// the first read, not an earlier method entry, run it: a handle reads it only after its slot check, so only once
    /// Create has run (a default handle throws first).
    /// </summary>
    private static class Checkedness
    {
        public static readonly bool Value;

        static Checkedness() => Value = s_checkedHandles;
    }

    [DoesNotReturn]
    private static void ThrowNotTheTypeCache(KmemCache<T>? cache) => throw new InvalidOperationException(
        $"ThisThread of {typeof(T).Name} was given {(cache is null ? "no cache" : $"cache '{cache.Name}'")}, not the type's own cache{(s_cache is null ? "" : $" '{s_cache.Name}'")}.");

    [DoesNotReturn]
    private static KmemCache<T> ThrowNoCache() => throw new InvalidOperationException($"{typeof(T).Name} has no cache yet: take a handle through {typeof(T).Name}.ThisThread.");

    /// <summary>What a default <see cref="SlabThreadCache{T}"/> (not taken through ThisThread) throws.</summary>
    [DoesNotReturn]
    internal static void ThrowDefaultThreadCache() => throw new InvalidOperationException(
        $"A default SlabThreadCache<{typeof(T).Name}> has no thread slot: take the handle with {typeof(T).Name}.ThisThread.");

    /// <summary>Allocates an object of <paramref name="cache"/> through the thread's array cache named by <paramref name="threadCache"/>.</summary>
    /// <param name="cache">The cache <see cref="Create(string, SlabFlags, int, bool, ObjectConstructor{T})"/> returned.</param>
    /// <param name="threadCache">The generated type's thread static: this thread's array cache of the cache, or 0.</param>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> may grow the cache from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <exception cref="SlabOutOfMemoryException">No memory under these flags; the message names the cache, the flags and the cap.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="cache"/> is not a type cache.</exception>
    /// <returns>The object's handle.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SlabRef<T> Alloc(KmemCache<T> cache, ref nint threadCache, GfpFlags flags) => new(AllocPointer(cache, ref threadCache, flags));

    /// <summary><see cref="Alloc"/> that returns the null handle instead of throwing when no memory is available (the generated <c>TryAlloc</c>/<c>TryNew</c>).</summary>
    /// <inheritdoc cref="Alloc"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SlabRef<T> TryAlloc(KmemCache<T> cache, ref nint threadCache, GfpFlags flags) => new(TryAllocPointer(cache, ref threadCache, flags));

    /// <summary><see cref="Alloc"/> with a generation-checked handle.</summary>
    /// <inheritdoc cref="Alloc"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SlabRef<T> AllocChecked(KmemCache<T> cache, ref nint threadCache, GfpFlags flags) => Stamp(AllocPointer(cache, ref threadCache, flags));

    /// <summary><see cref="TryAlloc"/> with a generation-checked handle.</summary>
    /// <inheritdoc cref="Alloc"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static SlabRef<T> TryAllocChecked(KmemCache<T> cache, ref nint threadCache, GfpFlags flags)
    {
        T* obj = TryAllocPointer(cache, ref threadCache, flags);
        return obj == null ? default : Stamp(obj);
    }

    /// <summary>Frees an object of <paramref name="cache"/> through the thread's array cache named by <paramref name="threadCache"/>.</summary>
    /// <param name="cache">The cache <see cref="Create(string, SlabFlags, int, bool, ObjectConstructor{T})"/> returned.</param>
    /// <param name="threadCache">The generated type's thread static.</param>
    /// <param name="obj">The handle; the null handle does nothing.</param>
    /// <exception cref="ArgumentException">The object is not one of the cache's, or is already free.</exception>
    /// <exception cref="InvalidOperationException"><paramref name="cache"/> is not a type cache.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void Free(KmemCache<T> cache, ref nint threadCache, SlabRef<T> obj)
    {
        var block = (nint*)threadCache;
        T* pointer = obj.RawPointer;
        if (block != null && Sampler.MayPush(pointer) && PushThreadCache(block, pointer))
        {
            return;
        }

        FreeSlow(cache, ref threadCache, pointer);
    }

    /// <summary><see cref="Free"/> of a generation-checked handle.</summary>
    /// <inheritdoc cref="Free"/>
    /// <exception cref="ObjectDisposedException">The object was already freed (a double free or a stale handle); nothing is changed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void FreeChecked(KmemCache<T> cache, ref nint threadCache, SlabRef<T> obj)
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
        Free(cache, ref threadCache, obj);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* AllocPointer(KmemCache<T> cache, ref nint threadCache, GfpFlags flags)
    {
        T* obj = PopThreadCache(threadCache, flags);
        return obj != null ? obj : AllocSlow(cache, ref threadCache, flags);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* TryAllocPointer(KmemCache<T> cache, ref nint threadCache, GfpFlags flags)
    {
        T* obj = PopThreadCache(threadCache, flags);
        return obj != null ? obj : TryAllocSlow(cache, ref threadCache, flags);
    }

    /// <summary>The fast path of every allocation form: the hottest object of the thread's block, or null (no block yet, empty, or flags that need the slow path).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static T* PopThreadCache(nint threadCache, GfpFlags flags)
    {
        var block = (nint*)threadCache;
        return block == null ? null : (T*)ArrayCache.TryPop(block, flags, FreeWordLayout.Offset);
    }

    /// <summary>The fast path of every free form: the push onto the thread's block with the cache's constants.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static bool PushThreadCache(nint* block, T* obj) =>
        ArrayCache.TryPush(block, obj, checkStart: false, colour: 0, FreeWordLayout.Offset, FreeWordLayout.Tag, FreeWordLayout.SlabMask);

    /// <summary>
    /// The cache's free-word constants as static readonly fields, which the tier-1 JIT folds into the fast paths as
    /// immediates. Read only once a thread's block exists (so Create has run); the explicit static constructor makes
    /// the first read, not method entry, run the initializer.
    /// </summary>
    private static class FreeWordLayout
    {
        public static readonly nint Offset;
        public static readonly nint Tag;
        public static readonly nint SlabMask;

        static FreeWordLayout()
        {
            KmemCache cache = s_cache!.Cache;
            Offset = (nint)cache.Layout.FreePointerOffset;
            Tag = cache.FreeTag;
            SlabMask = cache.Layout.SlabMask;
        }
    }

    /// <summary>Gives a new object of a checked cache its generation and its handle.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static SlabRef<T> Stamp(T* obj)
    {
        ulong generation = HandleGenerations.Next();
        *SlabRef<T>.GenerationWord(obj) = generation;
        return new SlabRef<T>(obj, generation);
    }

    private static void RunConstructor(T* obj) => s_constructor!(ref *obj);

    /// <summary>Reset's hook for a checked type: the generation word cleared, so no handle to the object matches any more.</summary>
    private static void ForgetHandles(void* obj) => *SlabRef<T>.GenerationWord((T*)obj) = 0;

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T* AllocSlow(KmemCache<T> cache, ref nint threadCache, GfpFlags flags)
    {
        T* obj = TryAllocSlow(cache, ref threadCache, flags);
        if (obj == null)
        {
            ThrowOutOfMemory(cache, flags);
        }

        return obj;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T* TryAllocSlow(KmemCache<T> cache, ref nint threadCache, GfpFlags flags)
    {
        KmemCache untyped = TypeCacheOf(cache);
        var obj = (T*)untyped.Alloc(flags);
        threadCache = (nint)untyped.ThreadBlock();
        return obj;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void FreeSlow(KmemCache<T> cache, ref nint threadCache, T* obj)
    {
        KmemCache untyped = TypeCacheOf(cache);
        untyped.Free(obj);
        if (obj != null)
        {
            threadCache = (nint)untyped.ThreadBlock();
        }
    }

    /// <summary>The untyped cache under <paramref name="cache"/>, which must be a type cache: a thread static may point into it for good.</summary>
    private static KmemCache TypeCacheOf(KmemCache<T> cache)
    {
        ArgumentNullException.ThrowIfNull(cache);
        return cache.Cache.IsTypeCache ? cache.Cache : throw new InvalidOperationException(
            $"Cache '{cache.Name}' is not the cache of a [SlabCache] struct: TypeCache<{typeof(T).Name}> serves only the cache its Create made (use KmemCache<T>.Alloc and Free for others).");
    }

    [DoesNotReturn]
    private static void ThrowOutOfMemory(KmemCache<T> cache, GfpFlags flags) =>
        throw new SlabOutOfMemoryException(cache.Name, typeof(T).Name, flags, cache.Cache.Pages.MaxBytes);
}
