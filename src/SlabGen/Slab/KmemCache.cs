// A slab cache (mm/slub.c, mm/slab.c): objects of one size carved from slabs of 2^order pages.
// This file: every field of the cache with what guards it, the public surface and the fast paths. An allocation pops
// the calling thread's array cache and a free pushes onto it, without a lock or an atomic (ArrayCache.cs); misses go
// to the slow paths (KmemCache.Refill.cs, over the slab lists of KmemCache.Slabs.cs), debug caches always do
// (KmemCache.Debug.cs). Counting, Shrink and Destroy: KmemCache.Lifetime.cs; enumeration, Reset and Reserve:
// KmemCache.Live.cs.
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>
/// A cache of equal-sized objects, as the kernel's <c>kmem_cache</c>: slabs of contiguous pages from a
/// <see cref="PageAllocator"/>, an optional constructor run when a slab is populated (objects are cached in
/// their constructed state), colouring, per-thread caches and the kernel's debug modes.
/// </summary>
/// <remarks>
/// Thread-safe; an object may be freed on any thread. <see cref="Alloc"/> returns <see langword="null"/> when
/// memory is exhausted; misuse throws. A caller frees an object back in its constructed state.
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed unsafe partial class KmemCache : IDisposable, IShrinker
{
    internal const SlabFlags DebugFlags = SlabFlags.Poison | SlabFlags.RedZone | SlabFlags.StoreUser | SlabFlags.ConsistencyChecks;

    // What a cache holds, and what guards each field (as struct kmem_cache in mm/slab.h). "The cache lock" is
    // _node.Lock. Set in the constructor and never written again, so read without a lock anywhere, fast paths included:
    // _pages, _ctor, _layout, _debug, _cookie, _freeTag, _arrayCaches, _depot, _pinBuffers, _live, _allocationSites
    // (the references; what they hold is guarded as said at each), Name, Flags, Limit, BatchCount.

    private readonly PageAllocator _pages;
    private readonly delegate*<void*, void> _ctor;
    private readonly SlabLayout _layout;
    private readonly bool _debug;

    /// <summary>Never reused: tells this cache's per-thread blocks from those a destroyed cache with the same id left.</summary>
    private readonly long _cookie = ThreadSlots.NewCookie();

    /// <summary>The secret a free object's free word is XORed with (FreeWord.cs); random, so data that looks free is rare.</summary>
    private readonly nint _freeTag = (nint)Random.Shared.NextInt64(long.MinValue, long.MaxValue);

    /// <summary>
    /// The id of this cache in the per-thread tables and page frames; -1 once destroyed. Written under the cache lock
    /// (Destroy); the fast paths read it without one (a destroyed cache's blocks are shut first, PerThread/).
    /// </summary>
    private int _id;

    /// <summary>The threads' array caches (per-thread blocks, ArrayCache.cs): each touched only by its thread, or by a drain that holds it (PerThread/).</summary>
    private readonly PerThreadRegistry<ArrayCache> _arrayCaches = new();

    /// <summary>Full and empty magazines shared by the threads (MagazineDepot.cs): lock-free rings, any thread.</summary>
    private readonly MagazineDepot _depot;

    /// <summary>The slab lists, the cache lock and the active count (SlabLists.cs, the kernel's kmem_cache_node): every field under that lock; ActiveObjects also read with Volatile.Read.</summary>
    private SlabLists _node;

    /// <summary>The last freelist corruption TakeObjects found, for a debug allocation to throw; guarded by the cache lock.</summary>
    private string? _freelistCorruption;

    /// <summary>The colour of the next slab (Interlocked.Increment, no lock).</summary>
    private uint _nextColour;

    /// <summary>The slab-list buffers of enumerations and resets (KmemCache.Live.cs): guarded by the cache lock.</summary>
    private readonly PinBuffers _pinBuffers = new();

    /// <summary>
    /// Debug caches: the live objects and the size each was asked for (kmalloc's requested size; the object size for
    /// other caches), guarded by the cache lock. It is the state the checks trust: it is outside the slab, so no write
    /// into the slab can make an object unfreeable.
    /// </summary>
    private readonly Dictionary<nint, int>? _live;

    /// <summary>Where each live object was allocated (StoreUser), guarded by the cache lock.</summary>
    private readonly Dictionary<nint, string>? _allocationSites;

    // Set by the layer that makes the cache (MakeTypeCache, MakeKmallocCache) before the
    // cache reaches any other thread, and never written again.

    /// <summary>Whether Destroy may end this cache, and whether it keeps its empty slabs (CacheLifetime.cs).</summary>
    private CacheLifetime _lifetime;

    /// <summary>What <see cref="Reset"/> does to each live object first, for the layer above (a checked type cache clears the handles' generation word); null: nothing.</summary>
    private delegate*<void*, void> _onReset;

    /// <summary>Written into every slab's frame (SlabPage.KmallocClass): the shared kmalloc set's size class (1..20), or 0 for other caches.</summary>
    private byte _kmallocClass;

    /// <summary>Whether the cache is a size cache of a kmalloc allocator (shared or not): its objects belong to every Kmalloc caller.</summary>
    private bool _servesKmalloc;

    // Counters and flags of any thread.

    /// <summary>How many times <see cref="Reset"/> ran, for the double-free message (Interlocked.Increment, Volatile.Read).</summary>
    private int _resets;

    /// <summary>1 once a Dispose has reported this cache's leak (Interlocked.Exchange).</summary>
    private int _leakReported;

    /// <summary>
    /// Whether the cache has held a slab (or a reserve) since it was made: the SlabGen meter reports it from then on
    /// (CacheMetrics.PerCache). Set once, by whichever collection sees it first; a race sets it twice, to the same value.
    /// </summary>
    internal bool ShownInMetrics;

    private KmemCache(string name, SlabLayout layout, SlabFlags flags, delegate*<void*, void> ctor, PageAllocator pages)
    {
        Name = name;
        Flags = flags;
        _layout = layout;
        _ctor = ctor;
        _pages = pages;
        _debug = (flags & DebugFlags) != 0;
        (Limit, BatchCount) = ArrayCache.Tunables(layout.Stride);
        _depot = new MagazineDepot(BatchCount);
        _node = new SlabLists(layout.ObjectsPerSlab);
        _allocationSites = (flags & SlabFlags.StoreUser) != 0 ? new Dictionary<nint, string>() : null;
        _live = _debug ? new Dictionary<nint, int>() : null;
        _id = OwnerIds.Take();
        CacheRegistry.Add(this, _id);
        pages.RegisterShrinker(this);
    }

    /// <summary>
    /// Creates a cache (<c>kmem_cache_create</c>) without a constructor. Needs no <c>unsafe</c> context.
    /// </summary>
    /// <param name="name">The name slabinfo shows.</param>
    /// <param name="size">The object size in bytes.</param>
    /// <param name="align">The object alignment: a power of two up to the page size, or 0 for 8 bytes.</param>
    /// <param name="flags">Alignment and debug options.</param>
    /// <param name="pages">Where slabs come from; <see langword="null"/> for <see cref="PageAllocator.Shared"/>.</param>
    /// <exception cref="ArgumentException">An empty name, or an alignment that is not a power of two up to 4096.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size of 0, or too big for a slab of order 10.</exception>
    /// <returns>The new cache, listed in slabinfo until it is destroyed.</returns>
    [SuppressMessage("ApiDesign", "RS0027:API with optional parameter(s) should have the most parameters amongst its public overloads", Justification = "The constructor overload takes a function pointer; were it the one with defaults, every caller would need an unsafe context.")]
    public static KmemCache Create(string name, nuint size, nuint align, SlabFlags flags = SlabFlags.None, PageAllocator? pages = null) =>
        Create(name, size, align, flags, null, pages);

    /// <summary>
    /// Creates a cache (<c>kmem_cache_create</c>) whose objects <paramref name="ctor"/> constructs when their slab is
    /// populated: objects are handed out in their constructed state and must be freed in it.
    /// </summary>
    /// <param name="name">The name slabinfo shows.</param>
    /// <param name="size">The object size in bytes.</param>
    /// <param name="align">The object alignment: a power of two up to the page size, or 0 for 8 bytes.</param>
    /// <param name="flags">Alignment and debug options.</param>
    /// <param name="ctor">Run on every object when its slab is populated; null for none.</param>
    /// <param name="pages">Where slabs come from; <see langword="null"/> for <see cref="PageAllocator.Shared"/>.</param>
    /// <exception cref="ArgumentException">An empty name, or an alignment that is not a power of two up to 4096.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A size of 0, or too big for a slab of order 10.</exception>
    /// <returns>The new cache, listed in slabinfo until it is destroyed.</returns>
    public static KmemCache Create(string name, nuint size, nuint align, SlabFlags flags, delegate*<void*, void> ctor, PageAllocator? pages)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        flags |= SlabDebug.FlagsFor(name);
        SlabLayout layout = SlabLayout.Compute(size, align, flags, ctor != null);
        return new KmemCache(name, layout, flags, ctor, pages ?? PageAllocator.Shared);
    }

    /// <summary>The cache's name.</summary>
    public string Name { get; }

    /// <summary>The options the cache was created with, and the debug flags the per-process option gave it (<see cref="SlabDebug"/>).</summary>
    public SlabFlags Flags { get; }

    /// <summary>The object size asked for.</summary>
    public nuint ObjectSize => _layout.Size;

    /// <summary>The bytes each object takes in a slab, with padding and debug metadata (slabinfo's objsize).</summary>
    public nuint SlotSize => _layout.Stride;

    /// <summary>The alignment of every object.</summary>
    public nuint Align => _layout.Align;

    /// <summary>How many objects a slab holds.</summary>
    public int ObjectsPerSlab => _layout.ObjectsPerSlab;

    /// <summary>The order of a slab: a slab is 2^SlabOrder contiguous pages.</summary>
    public int SlabOrder => _layout.Order;

    /// <summary>How many distinct colours (first-object offsets) successive slabs cycle through.</summary>
    public int Colours => _layout.Colours;

    /// <summary>The most objects a thread's array cache holds: two magazines (slabinfo's limit).</summary>
    public int Limit { get; }

    /// <summary>The rounds of a magazine: how many objects move between a thread's array cache and the depot (or the slabs) at once (slabinfo's batchcount).</summary>
    public int BatchCount { get; }

    internal int Id => _id;

    /// <inheritdoc cref="_freeTag"/>
    internal nint FreeTag => _freeTag;

    /// <summary>Where the objects sit in a slab.</summary>
    internal SlabLayout Layout => _layout;

    /// <summary>The page allocator slabs come from.</summary>
    public PageAllocator Pages => _pages;

    /// <summary>
    /// Allocates one object (<c>kmem_cache_alloc</c>), in its constructed state if the cache has a constructor.
    /// </summary>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> may grow the cache from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <returns>The object, or <see langword="null"/> when no memory is available under these flags.</returns>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    /// <exception cref="ArgumentException">Kernel and Atomic together, or Zero on a cache with a constructor.</exception>
    /// <exception cref="InvalidOperationException">With <see cref="SlabFlags.Poison"/>: the object was written after it was freed.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void* Alloc(GfpFlags flags = GfpFlags.Kernel)
    {
        nint* block = ThreadSlots.Find(_id);
        if (PerThreadBlock.IsOwnedBy(block, _cookie))
        {
            void* obj = ArrayCache.TryPop(block, flags);
            if (obj != null)
            {
                return obj;
            }
        }

        return AllocSlow(flags);
    }

    /// <summary>Frees an object (<c>kmem_cache_free</c>) on any thread. <see langword="null"/> does nothing.</summary>
    /// <param name="obj">The object, as <see cref="Alloc"/> returned it.</param>
    /// <exception cref="ArgumentException">
    /// A pointer from another cache or from no cache, a pointer into the middle of an object, or an object that is
    /// already free (a double free; one that was allocated again in between cannot be told apart). Nothing is changed.
    /// </exception>
    /// <exception cref="InvalidOperationException">With <see cref="SlabFlags.RedZone"/>: the object's red zone was overwritten (the object is freed).</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Free(void* obj)
    {
        // The page lookup is independent of the array cache's loads, so the CPU overlaps them. Every page of this
        // cache's slabs, and no other page, carries its cookie: one load checks that the object is this cache's.
        nint* block = ThreadSlots.Find(_id);
        PageFrame* page = PageAllocator.FrameOf(obj);
        if (PerThreadBlock.IsOwnedBy(block, _cookie)
            && SlabPage.Of(page)->Cookie == _cookie
            && ArrayCache.TryFree(block, obj, page))
        {
            return;
        }

        FreeSlow(obj);
    }

    /// <summary>
    /// Allocates <c>objects.Length</c> objects into <paramref name="objects"/> (<c>kmem_cache_alloc_bulk</c>): all of
    /// them or none, as the kernel's. On failure the objects already taken are freed again and the span is cleared.
    /// </summary>
    /// <param name="objects">Receives the objects' addresses.</param>
    /// <param name="flags"><see cref="GfpFlags.Kernel"/> may grow the cache from the OS; <see cref="GfpFlags.Atomic"/> never does.</param>
    /// <returns><c>objects.Length</c>, or 0 when memory ran out under these flags.</returns>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    /// <exception cref="ArgumentException">Kernel and Atomic together, or Zero on a cache with a constructor; nothing is allocated.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context; nothing is allocated.</exception>
    public int AllocBulk(Span<nint> objects, GfpFlags flags = GfpFlags.Kernel)
    {
        for (int i = 0; i < objects.Length; i++)
        {
            void* obj;
            try
            {
                obj = Alloc(flags);
            }
            catch
            {
                FreeBulk(objects[..i]);
                objects.Clear();
                throw;
            }

            if (obj == null)
            {
                FreeBulk(objects[..i]);
                objects.Clear();
                return 0;
            }

            objects[i] = (nint)obj;
        }

        return objects.Length;
    }

    /// <summary>
    /// Frees every object of <paramref name="objects"/> (<c>kmem_cache_free_bulk</c>), in order, on any thread; 0
    /// entries are skipped. Each free is checked as <see cref="Free"/> checks it: a refused entry throws, the entries
    /// before it are freed and the ones after it are not.
    /// </summary>
    /// <param name="objects">The objects, as <see cref="Alloc"/> or <see cref="AllocBulk"/> returned them.</param>
    /// <exception cref="ArgumentException">An entry is not a live object of this cache (foreign, interior, already free).</exception>
    /// <exception cref="InvalidOperationException">With <see cref="SlabFlags.RedZone"/>: an object's red zone was overwritten (it is freed).</exception>
    public void FreeBulk(ReadOnlySpan<nint> objects)
    {
        foreach (nint obj in objects)
        {
            Free((void*)obj);
        }
    }

    /// <summary>
    /// Frees an object of whichever cache owns <paramref name="slab"/> (Kfree of an object that is not kmalloc's):
    /// pushes it onto the calling thread's array cache straight from the slab's frame, or takes the cache's slow path.
    /// </summary>
    internal static void FreeToSlabCache(void* obj, PageFrame* slab)
    {
        nint* block = ThreadSlots.Find(SlabPage.Of(slab)->CacheId);
        if (!PerThreadBlock.IsOwnedBy(block, SlabPage.Of(slab)->Cookie) || !ArrayCache.TryFree(block, obj, slab))
        {
            CacheRegistry.Find(SlabPage.Of(slab)->CacheId)!.FreeSlow(obj);
        }
    }

    /// <summary>The cache an object belongs to (the kernel's <c>virt_to_cache</c>), found from the object's page alone.</summary>
    /// <param name="obj">Any address.</param>
    /// <returns>The live cache whose slab holds <paramref name="obj"/>, or <see langword="null"/> when no slab does.</returns>
    public static KmemCache? CacheOf(void* obj)
    {
        if (Sampler.Holds(obj))
        {
            return Sampler.Pool!.CacheOf(obj);
        }

        PageFrame* head = PageAllocator.HeadFrameOf(obj);
        return head != null && SlabPage.IsSlab(head) ? CacheRegistry.Find(SlabPage.Of(head)->CacheId) : null;
    }

    /// <summary>What is wrong with the slab lists, or null (<see cref="SlabLists.Verify"/>); for tests.</summary>
    internal string? VerifySlabLists()
    {
        lock (_node.Lock)
        {
            return _node.Verify();
        }
    }

    /// <summary>Makes this the cache of a [SlabCache] type: never destroyed, and with <paramref name="checkedHandles"/> never shrunk.</summary>
    /// <param name="checkedHandles">Whether the objects carry a generation word for checked handles; empty slabs then stay with the cache.</param>
    /// <param name="onReset">Called for each live object when <see cref="Reset"/> frees it, before anything else (null: nothing).</param>
    internal void MakeTypeCache(bool checkedHandles, delegate*<void*, void> onReset)
    {
        _lifetime = checkedHandles ? CacheLifetime.CheckedTypeCache : CacheLifetime.TypeCache;
        _onReset = onReset;
    }

    /// <summary>
    /// Makes this a size cache of a kmalloc allocator: of the shared set when <paramref name="kmallocClass"/> is its class
    /// (1..20: never destroyed, its slabs tagged with the class for Kfree), of another allocator's set when 0.
    /// </summary>
    internal void MakeKmallocCache(byte kmallocClass)
    {
        _servesKmalloc = true;
        if (kmallocClass != 0)
        {
            _lifetime = CacheLifetime.SharedKmallocCache;
            _kmallocClass = kmallocClass;
        }
    }

    /// <summary>Whether the cache is a size cache of a kmalloc allocator (shared or not): its objects belong to every Kmalloc caller.</summary>
    internal bool ServesKmalloc => _servesKmalloc;

    /// <summary>Whether this is the cache of a [SlabCache] type (<see cref="MakeTypeCache"/>).</summary>
    internal bool IsTypeCache => _lifetime is CacheLifetime.TypeCache or CacheLifetime.CheckedTypeCache;

    /// <summary>Whether the objects carry a generation word for checked handles (the cache of a checked [SlabCache] type).</summary>
    internal bool HasCheckedHandles => _lifetime == CacheLifetime.CheckedTypeCache;

    /// <summary>Whether empty slabs stay with the cache: checked handles may still read their objects' generation words.</summary>
    private bool KeepsSlabs => _lifetime == CacheLifetime.CheckedTypeCache;

    /// <summary>The calling thread's array-cache block of this cache, or null (none yet, or a debug cache).</summary>
    internal nint* ThreadBlock()
    {
        nint* block = ThreadSlots.Find(_id);
        return PerThreadBlock.IsOwnedBy(block, _cookie) ? block : null;
    }

    /// <summary>
    /// Destroys the cache as <see cref="Destroy"/> does, but never throws (.NET's rule for Dispose). With objects still
    /// allocated the cache stays in place and usable, as the kernel leaves a cache whose kmem_cache_destroy found
    /// objects, and the leak is reported once: a <see cref="SlabGenEventSource.CacheLeaked"/> event and the
    /// <c>slabgen.cache.leaked_disposals</c> counter. The cache of a [SlabCache] struct or a kmalloc size cache is
    /// left as it is.
    /// </summary>
    public void Dispose()
    {
        if (_lifetime != CacheLifetime.Ordinary)
        {
            return;
        }

        string? leak = TryDestroy();
        if (leak is not null && Interlocked.Exchange(ref _leakReported, 1) == 0)
        {
            SlabGenEventSource.Log.CacheLeaked(Name, LiveObjects, leak);
            SlabGenMetrics.RecordLeakedDisposal(Name);
        }
    }

    /// <inheritdoc/>
    /// <returns>The cache's name, object size, slab geometry and live objects (or that it was destroyed), as a debugger shows it.</returns>
    public override string ToString() => $"kmem_cache {Name} ({ObjectSize} bytes, {ObjectsPerSlab} per order-{SlabOrder} slab): " +
        (_id < 0 ? "destroyed" : $"{LiveObjects:N0} live in {SlabCount:N0} slab{(SlabCount == 1 ? "" : "s")}");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void* AllocSlow(GfpFlags flags) => AllocSlow(flags, (int)_layout.Size);

    /// <summary>
    /// kmalloc's allocation of <paramref name="requested"/> bytes from this size cache: in a debug cache, the bytes
    /// past the size asked for are red zone too, and <see cref="UsableSize"/> is that size.
    /// </summary>
    internal void* AllocSized(GfpFlags flags, int requested)
    {
        if (_debug)
        {
            return AllocSlow(flags, requested);
        }

        if (!Sampler.Enabled)
        {
            return Alloc(flags);
        }

        // Sampling on: Alloc's pop, but a miss takes the slow path with the size asked for, which a sample keeps.
        nint* block = ThreadSlots.Find(_id);
        void* obj = PerThreadBlock.IsOwnedBy(block, _cookie) ? ArrayCache.TryPop(block, flags) : null;
        return obj != null ? obj : AllocSlow(flags, requested);
    }

    /// <summary>A sampled object of <paramref name="requested"/> bytes when this allocation is the one sampled (Sampling/), else null.</summary>
    private void* TrySample(int requested) =>
        Sampler.Enabled && Sampler.TakeSample(ThreadBlock()) ? Sampler.Pool!.TryAlloc(this, requested) : null;

    /// <summary>Arms every thread's array cache of this cache for sampling by time: each one's next pop misses to the slow path (PerThreadBlock.Armed).</summary>
    internal void ArmThreadBlocks()
    {
        foreach (ArrayCache cache in _arrayCaches.Snapshot())
        {
            PerThreadBlock.TryArm(cache.Block);
        }
    }

    /// <summary>Counts a sampled object in or out of the active objects, so LiveObjects, slabinfo and Destroy see it.</summary>
    internal void CountSampled(int delta)
    {
        lock (_node.Lock)
        {
            _node.ActiveObjects += delta;
        }
    }

    /// <summary>Runs the constructor, if any, on a sampled object, which no slab populated.</summary>
    internal void ConstructSampled(void* obj)
    {
        if (_ctor != null)
        {
            _ctor(obj);
        }
    }

    /// <summary>What the caller may use of a live object: the size it asked for in a debug cache, else the object size.</summary>
    internal nuint UsableSize(void* obj)
    {
        if (_live is null)
        {
            return _layout.Size;
        }

        lock (_node.Lock)
        {
            return _live.TryGetValue((nint)obj, out int requested) ? (nuint)requested : _layout.Size;
        }
    }

    private void* AllocSlow(GfpFlags flags, int requested)
    {
        if ((flags & GfpFlags.Zero) != 0 && _ctor != null)
        {
            throw new ArgumentException($"GfpFlags.Zero on cache '{Name}', which has a constructor: zeroing would destroy the constructed state.", nameof(flags));
        }

        ObjectDisposedException.ThrowIf(_id < 0, this);
        Gfp.Check(flags, "kmem_cache_alloc", Name);
        void* obj = _debug ? AllocDebug(flags, requested) : TrySample(requested);
        if (obj == null && !_debug)
        {
            obj = AllocFromArrayCache(flags);
        }

        if (obj != null && (flags & GfpFlags.Zero) != 0)
        {
            NativeMemory.Clear(obj, (nuint)requested);
        }

        return obj;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void FreeSlow(void* obj)
    {
        if (obj == null)
        {
            return;
        }

        ObjectDisposedException.ThrowIf(_id < 0, this);
        if (Sampler.Holds(obj))
        {
            Sampler.Pool!.Free(this, obj, "kmem_cache_free");
            return;
        }

        PageFrame* slab = SlabOf(obj);
        if (_debug)
        {
            FreeDebug(obj, slab);
            return;
        }

        if (ArrayCache.FreeChecks)
        {
            ThrowIfFree((byte*)obj, slab);
        }

        FreeToArrayCache(obj);
    }

    /// <summary>Whether <paramref name="obj"/> is the start of an object slot of this cache (allocated or free), found from its page.</summary>
    internal bool IsObjectStart(void* obj)
    {
        PageFrame* slab = PageAllocator.HeadFrameOf(obj);
        return slab != null && SlabPage.IsSlab(slab) && SlabPage.Of(slab)->CacheId == _id && _id >= 0 && IsObjectOf(slab, (byte*)obj);
    }

    /// <summary>The slab of an object of this cache, or an exception naming what the pointer really is.</summary>
    private PageFrame* SlabOf(void* obj)
    {
        PageFrame* slab = PageAllocator.HeadFrameOf(obj);
        if (slab == null || !SlabPage.IsSlab(slab))
        {
            ThrowFreeError(obj, slab == null
                ? "foreign pointer: it is not in any SlabGen arena"
                : "foreign pointer: it is in a page-allocator block, not a slab");
        }

        if (SlabPage.Of(slab)->CacheId != _id)
        {
            ThrowFreeError(obj, $"wrong cache: the object belongs to cache '{CacheRegistry.Find(SlabPage.Of(slab)->CacheId)?.Name ?? "?"}'");
        }

        nint offset = (nint)((byte*)obj - slab->Address - SlabPage.Of(slab)->Colour);
        if ((offset < 0 || (nuint)offset % _layout.Stride != 0 || (nuint)offset / _layout.Stride >= (nuint)_layout.ObjectsPerSlab))
        {
            ThrowFreeError(obj, $"interior pointer: it is {(nuint)offset % _layout.Stride} bytes into an object");
        }

        return slab;
    }

    /// <summary>
    /// What is wrong with <paramref name="obj"/>, an address in a slab of this cache (<paramref name="slab"/>, its head
    /// frame), as a live object: an interior pointer, or a free object; null when it is the start of an allocated one.
    /// Exact in debug caches and with the free checks on (the default); with them off, only the interior test.
    /// </summary>
    internal string? LiveObjectProblem(byte* obj, PageFrame* slab)
    {
        if (!IsObjectOf(slab, obj))
        {
            nint offset = (nint)(obj - slab->Address - SlabPage.Of(slab)->Colour);
            return offset < 0
                ? "interior pointer: it is in the slab's colour padding, before its first object"
                : $"interior pointer: it is {(nuint)offset % _layout.Stride} bytes into an object of cache '{Name}'";
        }

        if (_live is not null)
        {
            lock (_node.Lock)
            {
                return _live.ContainsKey((nint)obj) ? null : "already freed: the object is free";
            }
        }

        if (!ArrayCache.FreeChecks)
        {
            return null;
        }

        var offsetOfWord = (nint)_layout.FreePointerOffset;
        if (FreeWord.IsCached(obj, offsetOfWord, _freeTag))
        {
            return "already freed: the object is free (cached by a thread or in the depot)";
        }

        if (!FreeWord.MayBeFree(*FreeWord.Of(obj, offsetOfWord), obj, _freeTag, _layout.SlabMask))
        {
            return null;
        }

        lock (_node.Lock)
        {
            return OnFreelist(slab, obj) ? "already freed: the object is free (on its slab's freelist)" : null;
        }
    }

    /// <summary>
    /// The exact double-free check of a free that the fast path found suspicious: the object's free word holds the
    /// marker of a cached object (on a thread's stack or in a magazine), or it is on its slab's freelist.
    /// </summary>
    private void ThrowIfFree(byte* obj, PageFrame* slab)
    {
        var offset = (nint)_layout.FreePointerOffset;
        if (FreeWord.IsCached(obj, offset, _freeTag))
        {
            ThrowDoubleFree(obj, "cached by a thread or in the depot");
        }

        if (!FreeWord.MayBeFree(*FreeWord.Of(obj, offset), obj, _freeTag, _layout.SlabMask))
        {
            return;
        }

        bool onFreelist;
        lock (_node.Lock)
        {
            onFreelist = OnFreelist(slab, obj);
        }

        if (onFreelist)
        {
            ThrowDoubleFree(obj, "on its slab's freelist");
        }
    }

    [DoesNotReturn]
    private void ThrowFreeError(void* obj, string problem) =>
        throw new ArgumentException($"kmem_cache_free({Name}, 0x{(nuint)obj:x}): {problem}.", nameof(obj));

    /// <summary>A double free, named as such; after a <see cref="Reset"/>, the message says that Reset freed the objects of handles kept across it.</summary>
    [DoesNotReturn]
    private void ThrowDoubleFree(void* obj, string where)
    {
        int resets = Volatile.Read(ref _resets);
        ThrowFreeError(obj, $"double free: the object is already free ({where})" + (resets == 0 ? ""
            : $"; the cache was Reset {resets} time{(resets == 1 ? "" : "s")}, and Reset frees every object: a handle or pointer kept across Reset() is stale"));
    }
}
