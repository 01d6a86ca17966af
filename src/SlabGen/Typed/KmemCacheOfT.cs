using System.Runtime.CompilerServices;

namespace SlabGen;

/// <summary>
/// A typed slab cache of <typeparamref name="T"/>: a <see cref="KmemCache"/> sized and aligned for the struct,
/// with <c>T*</c> in place of <c>void*</c>.
/// </summary>
/// <typeparam name="T">An unmanaged struct.</typeparam>
[System.Diagnostics.DebuggerDisplay("{ToString(),nq}")]
public sealed unsafe partial class KmemCache<T> : IDisposable
    where T : unmanaged
{
    internal KmemCache(KmemCache cache) => Cache = cache;

    /// <summary>The untyped cache underneath.</summary>
    public KmemCache Cache { get; }

    /// <inheritdoc/>
    /// <returns>What the untyped cache says: name, object size, slab geometry and live objects.</returns>
    public override string ToString() => Cache.ToString();

    /// <summary>The name slabinfo shows.</summary>
    public string Name => Cache.Name;

    /// <summary>The object size asked for: <c>sizeof(T)</c>, plus the generation word of a checked [SlabCache] type.</summary>
    public nuint ObjectSize => Cache.ObjectSize;

    /// <summary>The alignment of every object.</summary>
    public nuint Align => Cache.Align;

    /// <summary>The options the cache was created with.</summary>
    public SlabFlags Flags => Cache.Flags;

    /// <summary>How many objects a slab holds.</summary>
    public int ObjectsPerSlab => Cache.ObjectsPerSlab;

    /// <inheritdoc cref="KmemCache.LiveObjects"/>
    public long LiveObjects => Cache.LiveObjects;

    /// <inheritdoc cref="KmemCache.ActiveObjects"/>
    public long ActiveObjects => Cache.ActiveObjects;

    /// <summary>The objects of all slabs (slabinfo's num_objs).</summary>
    public long TotalObjects => Cache.TotalObjects;

    /// <summary>
    /// Creates a typed cache of <c>sizeof(T)</c>-byte objects without a constructor. Needs no <c>unsafe</c> context.
    /// </summary>
    /// <param name="name">The name slabinfo shows.</param>
    /// <param name="flags">Alignment and debug options.</param>
    /// <param name="pages">Where slabs come from; <see langword="null"/> for <see cref="PageAllocator.Shared"/>.</param>
    /// <param name="align">The alignment; 0 for the natural alignment of <typeparamref name="T"/>.</param>
    /// <exception cref="ArgumentException">An empty name, or an alignment that is not a power of two up to 4096.</exception>
    /// <returns>The new cache, listed in slabinfo until it is destroyed.</returns>
    [System.Diagnostics.CodeAnalysis.SuppressMessage("ApiDesign", "RS0027:API with optional parameter(s) should have the most parameters amongst its public overloads", Justification = "The constructor overload takes a function pointer; were it the one with defaults, every caller would need an unsafe context.")]
    public static KmemCache<T> Create(string name, SlabFlags flags = SlabFlags.None, PageAllocator? pages = null, nuint align = 0) =>
        Create(name, null, flags, pages, align);

    /// <summary>
    /// Creates a typed cache of <c>sizeof(T)</c>-byte objects that <paramref name="ctor"/> constructs when their slab is
    /// populated.
    /// </summary>
    /// <param name="name">The name slabinfo shows.</param>
    /// <param name="ctor">Run on every object when its slab is populated; null for none.</param>
    /// <param name="flags">Alignment and debug options.</param>
    /// <param name="pages">Where slabs come from; <see langword="null"/> for <see cref="PageAllocator.Shared"/>.</param>
    /// <param name="align">The alignment; 0 for the natural alignment of <typeparamref name="T"/>.</param>
    /// <exception cref="ArgumentException">An empty name, or an alignment that is not a power of two up to 4096.</exception>
    /// <returns>The new cache, listed in slabinfo until it is destroyed.</returns>
    public static KmemCache<T> Create(string name, delegate*<T*, void> ctor, SlabFlags flags, PageAllocator? pages, nuint align)
    {
        nuint alignment = align != 0 ? align : NaturalAlignment;
        return new KmemCache<T>(KmemCache.Create(name, (nuint)sizeof(T), alignment, flags, (delegate*<void*, void>)ctor, pages));
    }

    /// <inheritdoc cref="KmemCache.AllocBulk"/>
    /// <remarks>On the cache of a checked [SlabCache] struct each object gets a new generation, as the generated <c>Alloc</c> gives it, so <see cref="Handles"/> yields checked handles to them.</remarks>
    public int AllocBulk(Span<nint> objects, GfpFlags flags = GfpFlags.Kernel)
    {
        int allocated = Cache.AllocBulk(objects, flags);
        if (allocated != 0 && Cache.HasCheckedHandles)
        {
            foreach (nint obj in objects)
            {
                *SlabRef<T>.GenerationWord((T*)obj) = HandleGenerations.Next();
            }
        }

        return allocated;
    }

    /// <inheritdoc cref="KmemCache.FreeBulk"/>
    /// <remarks>On the cache of a checked [SlabCache] struct each object's generation is cleared first, so every handle to it is refused afterwards.</remarks>
    public void FreeBulk(ReadOnlySpan<nint> objects)
    {
        if (!Cache.HasCheckedHandles)
        {
            Cache.FreeBulk(objects);
            return;
        }

        foreach (nint obj in objects)
        {
            if (Cache.IsObjectStart((void*)obj))
            {
                *SlabRef<T>.GenerationWord((T*)obj) = 0;
            }

            Cache.Free((void*)obj); // refuses what is not a live object of the cache, as FreeBulk does
        }
    }

    /// <summary>The alignment the runtime gives <typeparamref name="T"/> as a field.</summary>
    public static nuint NaturalAlignment => (nuint)(sizeof(AlignmentProbe) - sizeof(T));

    /// <inheritdoc cref="KmemCache.Alloc"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* Alloc(GfpFlags flags = GfpFlags.Kernel) => (T*)Cache.Alloc(flags);

    /// <inheritdoc cref="KmemCache.Free"/>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Free(T* obj) => Cache.Free(obj);

    /// <inheritdoc cref="KmemCache.ReservedObjects"/>
    public long ReservedObjects => Cache.ReservedObjects;

    /// <summary>
    /// Enumerates the live objects in place, as <see cref="KmemCache.GetEnumerator"/> does:
    /// <c>foreach (ref T item in cache)</c> reads and writes each object where it lives.
    /// </summary>
    /// <returns>An enumerator of references to the objects.</returns>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    public Enumerator GetEnumerator() => new(Cache.GetEnumerator());

    /// <summary>
    /// The live objects' handles, for a loop that frees some of the objects it visits
    /// (<c>foreach (SlabRef&lt;T&gt; item in cache.Handles)</c>): checked handles under <see cref="SlabCacheAttribute.Checked"/>.
    /// The rules of <see cref="KmemCache.GetEnumerator"/> apply.
    /// </summary>
    public HandleEnumerable Handles => new(Cache);

    /// <inheritdoc cref="KmemCache.Reset"/>
    public long Reset() => Cache.Reset();

    /// <inheritdoc cref="KmemCache.Reserve"/>
    [MaySleep]
    public long Reserve(long objects) => Cache.Reserve(objects);

    /// <inheritdoc cref="KmemCache.Shrink"/>
    public long Shrink() => Cache.Shrink();

    /// <inheritdoc cref="KmemCache.Destroy"/>
    public void Destroy() => Cache.Destroy();

    /// <inheritdoc cref="KmemCache.Dispose"/>
    public void Dispose() => Cache.Dispose();

/// <summary>Enumerates references to the live objects of a typed cache (<see cref="GetEnumerator"/>).</summary>
    public ref struct Enumerator
    {
        private LiveObjectEnumerator _objects;

        internal Enumerator(LiveObjectEnumerator objects) => _objects = objects;

        /// <summary>The current object, in place.</summary>
        public readonly ref T Current => ref *(T*)_objects.CurrentPointer;

        /// <inheritdoc cref="LiveObjectEnumerator.MoveNext"/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool MoveNext() => _objects.MoveNext();

        /// <inheritdoc cref="LiveObjectEnumerator.Dispose"/>
        public void Dispose() => _objects.Dispose();
    }

    /// <summary>The live objects' handles (<see cref="Handles"/>); nothing is pinned until <see cref="GetEnumerator"/>.</summary>
    public readonly struct HandleEnumerable
    {
        private readonly KmemCache _cache;

        internal HandleEnumerable(KmemCache cache) => _cache = cache;

        /// <summary>Starts the enumeration, as <see cref="KmemCache.GetEnumerator"/> does.</summary>
        /// <returns>An enumerator of the handles.</returns>
        /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
        public HandleEnumerator GetEnumerator() => new(_cache.GetEnumerator(), _cache.HasCheckedHandles);
    }

    /// <summary>Enumerates the handles of the live objects of a typed cache (<see cref="Handles"/>).</summary>
    public ref struct HandleEnumerator
    {
        private LiveObjectEnumerator _objects;
        private readonly bool _checked;

        internal HandleEnumerator(LiveObjectEnumerator objects, bool checkedHandles)
        {
            _objects = objects;
            _checked = checkedHandles;
        }

        /// <summary>The current object's handle.</summary>
        public readonly SlabRef<T> Current
        {
            get
            {
                var obj = (T*)_objects.CurrentPointer;
                return new SlabRef<T>(obj, _checked ? *SlabRef<T>.GenerationWord(obj) : 0);
            }
        }

        /// <inheritdoc cref="LiveObjectEnumerator.MoveNext"/>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public bool MoveNext() => _objects.MoveNext();

        /// <inheritdoc cref="LiveObjectEnumerator.Dispose"/>
        public void Dispose() => _objects.Dispose();
    }

#pragma warning disable CS0649 // never instantiated: only its size is read
    private struct AlignmentProbe
    {
        public byte Pad;
        public T Value;
    }
#pragma warning restore CS0649
}
