// The buddy page allocator (mm/page_alloc.c): every field with what guards it, the public surface, the fast paths and
// Dispose. Allocations and frees of orders 0..5 go through the calling thread's page list without a lock or an atomic;
// everything else, and a miss, goes to the named slow paths, which take the zone lock (PageAllocator.Zone.cs); arenas
// in PageAllocator.Arenas.cs, reclaim and reserve in PageAllocator.Reclaim.cs.
using System.Diagnostics;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>
/// A buddy allocator of 4 KiB pages, as the Linux kernel's: free lists for orders 0..10, blocks of 2^order
/// contiguous pages aligned to their size, split on allocation and coalesced with their buddy on free.
/// Memory comes from the OS in 4 MiB arenas, each page described by a <see cref="PageFrame"/>.
/// </summary>
/// <remarks>
/// Thread-safe. The kernel-named calls return <see langword="null"/> when memory is exhausted; misuse
/// (a foreign pointer, a double free, a wrong order) throws and changes nothing.
/// </remarks>
[DebuggerDisplay("{ToString(),nq}")]
public sealed unsafe partial class PageAllocator : IDisposable
{
    /// <summary>The size of a page in bytes.</summary>
    public const int PageSize = Contract.PageSize;

    /// <summary>The largest order: a block of order 10 is 1024 pages, 4 MiB, one arena.</summary>
    public const int MaxOrder = Contract.MaxOrder;

    internal const int PageShift = 12;


    /// <summary>
    /// The runtimeconfig setting (<c>RuntimeHostConfigurationOption</c> in the project file, or <c>configProperties</c> in
    /// <c>runtimeconfig.json</c>) that caps <see cref="Shared"/>: its <see cref="MaxBytes"/>, in bytes.
    /// </summary>
    public const string SharedMaxBytesSetting = "SlabGen.SharedMaxBytes";

    /// <summary>The environment variable that caps <see cref="Shared"/> when <see cref="SharedMaxBytesSetting"/> is not set: bytes.</summary>
    public const string SharedMaxBytesVariable = "SLABGEN_SHARED_MAX_BYTES";

    /// <summary>
    /// Holds <see cref="Shared"/> in a class of its own, so that only a use of Shared makes it (and reads its cap): a bad
    /// cap setting makes Shared throw, never an allocator or cache of the program's own.
    /// </summary>
    private static class SharedHolder
    {
        public static readonly PageAllocator Instance = new(new PageAllocatorOptions { TrimOnMemoryPressure = true, MaxBytes = SharedCap(), Name = "shared" }) { _isShared = true };
    }

    // What an allocator holds, and what guards each field. Set in the constructor (or its object initializer, for
    // _isShared) and never written again, so read without a lock anywhere: _isShared, _cookie, _freeArea and
    // _pageLists and _shrinkers (the references), _maxArenas, _borrowed, _unusablePages, MaxBytes, PerThreadPages,
    // TrimsOnMemoryPressure, Name.

    /// <summary>Whether this is <see cref="Shared"/>, which is never disposed.</summary>
    private bool _isShared;

    /// <summary>Never reused: tells this allocator's per-thread lists from those a disposed allocator with the same id left.</summary>
    private readonly long _cookie = ThreadSlots.NewCookie();

    /// <summary>The slot of this allocator in the per-thread tables; -1 once disposed. Written under the zone lock (Dispose); the fast paths read it without one.</summary>
    private int _id;

    /// <summary>The zone lock: the buddy lists, the arena list and the page counts below.</summary>
    private readonly Lock _zoneLock = new();

    /// <summary>The free blocks of each order; guarded by the zone lock.</summary>
    private readonly PageFrameList[] _freeArea = new PageFrameList[MaxOrder + 1];

    /// <summary>The arenas held, in the order they came; guarded by the zone lock (a borrowing constructor fills it before publishing).</summary>
    private readonly List<nint> _arenas = [];

    /// <summary>The threads' page lists (PerThreadPageList.cs): each touched only by its thread, or by a drain that holds it (PerThread/).</summary>
    private readonly PerThreadRegistry<PerThreadPageList> _pageLists = new();

    /// <summary>What parks this allocator's pages (its caches), for Reclaim and Dispose; guarded by itself (only Dispose takes the zone lock under it).</summary>
    private readonly List<IShrinker> _shrinkers = [];

    /// <summary>The cap in arenas: MaxBytes in whole arenas, long.MaxValue without a cap, 0 over borrowed memory (which never grows).</summary>
    private readonly long _maxArenas;

    /// <summary>Whether the arenas are memory the caller gave (PageAllocator.Borrowed.cs): none is taken from or given back to the OS.</summary>
    private readonly bool _borrowed;

    /// <summary>Pages of borrowed arenas outside the caller's block or holding the frames: never free, never allocated. Set by the constructor.</summary>
    private long _unusablePages;

    /// <summary>Arenas held plus arenas being taken from the OS: the count the cap is checked against (Interlocked).</summary>
    private long _arenasClaimed;

    /// <summary>Arenas being taken from the OS right now (AddArena), which a thread at the cap waits for (Interlocked, Volatile.Read).</summary>
    private int _arenasInFlight;

    /// <summary>Allocations that failed for want of memory (Interlocked.Increment, Volatile.Read).</summary>
    private long _failedAllocations;

    /// <summary>Pages on the buddy lists; guarded by the zone lock.</summary>
    private long _freePages;

    /// <summary>Free pages only Atomic allocations may take (<see cref="Reserve"/>); guarded by the zone lock.</summary>
    private long _reservedPages;

    /// <summary>1 once a Dispose has reported that the allocator was still in use (Interlocked.Exchange).</summary>
    private int _leakReported;

    /// <summary>
    /// The embedded default allocator, never disposed: no cap, unless the process sets one through
    /// <see cref="SharedMaxBytesSetting"/> or <see cref="SharedMaxBytesVariable"/> before its first use.
    /// </summary>
    /// <exception cref="TypeInitializationException">The cap setting is not a whole number of bytes ≥ 0 (the inner exception names it).</exception>
    public static PageAllocator Shared => SharedHolder.Instance;

    /// <summary>The cap of <see cref="Shared"/> from the runtimeconfig setting, else the environment variable; null for none.</summary>
    internal static long? SharedCap()
    {
        (string source, string? text) = AppContext.GetData(SharedMaxBytesSetting) is { } data
            ? ($"the runtimeconfig setting {SharedMaxBytesSetting}", Convert.ToString(data, System.Globalization.CultureInfo.InvariantCulture))
            : ($"the environment variable {SharedMaxBytesVariable}", Environment.GetEnvironmentVariable(SharedMaxBytesVariable));
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }

        return long.TryParse(text, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long cap)
            ? cap
            : throw new InvalidOperationException($"{source} is '{text}': PageAllocator.Shared's cap must be a whole number of bytes (for example 268435456 for 256 MiB).");
    }

    /// <summary>Creates an allocator that takes memory from the OS on demand.</summary>
    /// <param name="options">Limits and tuning; <see langword="null"/> for the defaults.</param>
    /// <exception cref="ArgumentOutOfRangeException">A negative MaxBytes, or PerThreadPages out of range.</exception>
    [SuppressMessage("ApiDesign", "RS0027:API with optional parameter(s) should have the most parameters amongst its public overloads", Justification = "The overloads with more parameters build another kind of allocator (over caller memory); new PageAllocator() is the common call.")]
    public PageAllocator(PageAllocatorOptions? options = null)
        : this(options ?? new PageAllocatorOptions(), borrowed: false)
    {
    }

    private PageAllocator(PageAllocatorOptions options, bool borrowed)
    {
        if (options.MaxBytes < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.MaxBytes, "MaxBytes must not be negative.");
        }

        if (options.PerThreadPages is < 0 or > PerThreadPageList.MaxHigh)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.PerThreadPages,
                $"PerThreadPages must be between 0 and {PerThreadPageList.MaxHigh}.");
        }

        PageAllocatorMetrics.EnsureRegistered();
        MaxBytes = options.MaxBytes;
        _maxArenas = borrowed ? 0 : options.MaxBytes is long max ? max / (long)Arena.Bytes : long.MaxValue;
        _borrowed = borrowed;
        PerThreadPages = options.PerThreadPages;
        TrimsOnMemoryPressure = options.TrimOnMemoryPressure;
        Name = string.IsNullOrEmpty(options.Name) ? "pages" : options.Name;
        _id = OwnerIds.Take();
        Owners.ById[_id] = this;
        if (TrimsOnMemoryPressure)
        {
            MemoryPressure.Add(this);
        }
    }

    /// <summary>
    /// The allocator whose arena holds <paramref name="address"/>, or null: how Kfree gives a large kmalloc block back to
    /// the allocator it came from, whichever that is.
    /// </summary>
    internal static PageAllocator? OwnerOf(void* address)
    {
        Arena* arena = SectionMap.Find(address);
        return arena == null ? null : Owners.ById.GetValueOrDefault(arena->OwnerId);
    }

    /// <summary>The live allocators by id; in a class of its own so it exists before <see cref="Shared"/> is made.</summary>
    private static class Owners
    {
        public static readonly System.Collections.Concurrent.ConcurrentDictionary<int, PageAllocator> ById = new();
    }

    /// <summary>The cap on memory taken from the OS, or <see langword="null"/> for none; for an allocator over caller memory, the bytes of the block left for pages.</summary>
    public long? MaxBytes { get; }

    /// <summary>How many pages of freed small blocks each thread may keep (0: none).</summary>
    public int PerThreadPages { get; }

    /// <summary>Whether the allocator trims itself after gen-2 collections and under high memory load (<see cref="PageAllocatorOptions.TrimOnMemoryPressure"/>).</summary>
    public bool TrimsOnMemoryPressure { get; }

    internal int Id => _id;

    /// <summary>What the allocator is for (<see cref="PageAllocatorOptions.Name"/>): <c>shared</c>, <c>pages</c> by default, a pinned pool's owner followed by <c>-pool</c>.</summary>
    public string Name { get; }

    /// <summary>The live allocators, <see cref="Shared"/> first once it exists: what the meter reports (SlabGenMetrics).</summary>
    internal static IEnumerable<PageAllocator> Live => Owners.ById.Values.OrderBy(static a => a._isShared ? -1 : a._id);

    /// <inheritdoc/>
    /// <returns>The allocator's id and kind (the shared one, over caller memory, or its own), its arenas, the memory it holds from the OS and its cap, as a debugger shows it.</returns>
    public override string ToString()
    {
        int id = _id;
        if (id < 0)
        {
            return "PageAllocator (disposed)";
        }

        string kind = _isShared ? " (Shared)" : _borrowed ? " (over caller memory)" : "";
        string cap = MaxBytes is long max ? $"{max / (1 << 20):N0} MiB" : "none";
        return $"PageAllocator '{Name}' #{id}{kind}: {ArenaCount} arena(s), {BytesFromOs / (1 << 20):N0} MiB from the OS, cap {cap}";
    }

    /// <summary>
    /// Allocates a block of 2^<paramref name="order"/> contiguous pages whose address is a multiple of its size.
    /// </summary>
    /// <param name="order">0..<see cref="MaxOrder"/>.</param>
    /// <param name="flags">
    /// Without <see cref="GfpFlags.Atomic"/> (<see cref="GfpFlags.Kernel"/>, the default) may take a new arena from the OS;
    /// <see cref="GfpFlags.Atomic"/> only uses free blocks already held. <see cref="GfpFlags.Zero"/> zero-fills the block.
    /// </param>
    /// <returns>The block, or <see langword="null"/> when no memory is available under these flags.</returns>
    /// <exception cref="ArgumentOutOfRangeException">The order is outside 0..10.</exception>
    /// <exception cref="ArgumentException">Kernel and Atomic are both set.</exception>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public void* AllocPages(int order, GfpFlags flags = GfpFlags.Kernel)
    {
        // The thread's list is found before any test, so the thread-local read dominates the rest of an inlining
        // caller: a FreePages later in the same method reuses its address instead of calling for it again. The flags
        // gate is Gfp's, with the interrupt depth read through the list's header; Zero is served here too.
        nint* list = ThreadSlots.Find(_id);
        if ((uint)order <= PerThreadPageList.MaxListOrder && PerThreadBlock.IsOwnedBy(list, _cookie)
            && Gfp.FastPathServes(flags & ~GfpFlags.Zero, PerThreadBlock.Header(list)->InterruptDepth))
        {
            PageFrame* page = PerThreadPageList.TryPop(list, order, PerThreadPages);
            if (page != null)
            {
                page->Flags = PageFlags.Head;
                if ((flags & GfpFlags.Zero) != 0)
                {
                    NativeMemory.Clear(page->Address, (nuint)PageSize << order);
                }

                return page->Address;
            }
        }

        return AllocPagesSlow(order, flags);
    }

    /// <summary>Frees a block that <see cref="AllocPages"/> returned, coalescing it with its free buddies.</summary>
    /// <param name="address">The block's address, exactly as returned.</param>
    /// <param name="order">The order it was allocated with.</param>
    /// <exception cref="ArgumentOutOfRangeException">The order is outside 0..10.</exception>
    /// <exception cref="ArgumentException">
    /// The address is not from this allocator, not the start of an allocated block, already free (double free),
    /// or was allocated with another order. Nothing is changed.
    /// </exception>
    public void FreePages(void* address, int order)
    {
        PageFrame* page = BlockToFree(address, order);
        if ((uint)order <= PerThreadPageList.MaxListOrder)
        {
            nint* list = ThreadSlots.Find(_id);
            if (PerThreadBlock.IsOwnedBy(list, _cookie) && PerThreadPageList.TryPush(list, page, order, PerThreadPages))
            {
                return;
            }
        }

        FreePagesSlow(page, order);
    }

    /// <summary>
    /// The descriptor of the page containing <paramref name="address"/> (the kernel's <c>virt_to_page</c>), in O(1).
    /// </summary>
    /// <exception cref="ArgumentException">The address is not inside an arena of this allocator.</exception>
    /// <param name="address">Any address inside one of this allocator's arenas.</param>
    /// <returns>The page's frame, read-only: the allocator owns it.</returns>
    public ref readonly PageFrame PageOf(void* address)
    {
        Arena* arena = SectionMap.Find(address);
        if (arena == null || arena->OwnerId != _id)
        {
            ThrowForeign(address);
        }

        return ref *arena->FrameOf(address);
    }

    /// <summary>
    /// The descriptor of the first page of the allocated block containing <paramref name="address"/> (the kernel's
    /// <c>virt_to_head_page</c>): for an object in a multi-page slab, the frame that holds the slab's fields.
    /// </summary>
    /// <exception cref="ArgumentException">The address is not inside an arena of this allocator.</exception>
    /// <param name="address">Any address inside one of this allocator's arenas.</param>
    /// <returns>The block's first frame, read-only.</returns>
    public ref readonly PageFrame HeadPageOf(void* address)
    {
        // Through a pointer: a property called on a readonly reference would run on a defensive copy.
        var page = (PageFrame*)Unsafe.AsPointer(ref Unsafe.AsRef(in PageOf(address)));
        return ref *page->Compound;
    }

    /// <summary>
    /// The frame of the first page of the allocated block containing <paramref name="address"/>, in any
    /// allocator of the process; null when the address is in no arena. Tail pages lead to their head.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static PageFrame* HeadFrameOf(void* address)
    {
        PageFrame* page = FrameOf(address);
        if (page->Address == null)
        {
            return null; // no arena: NoFrame, or a slot of the arena space no arena holds (its frames read zero)
        }

        return page->Flags is not (PageFlags.Tail or PageFlags.None) ? page : page->Compound;
    }

    /// <summary>
    /// The frame of the page containing <paramref name="address"/> itself (a tail page is not resolved to its
    /// head), for the free fast paths: every page of a slab carries its cache's cookie and kmalloc class. Never null:
    /// where no arena is, an all-zero frame (no address, no cookie, kmalloc class 0), which those paths refuse as they
    /// refuse any page that is not theirs, so they need no null test. In the arena space by arithmetic (a slot no
    /// arena holds reads zero); elsewhere through the section map. <see cref="HeadFrameOf"/> is exact.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static PageFrame* FrameOf(void* address)
    {
        nuint offset = (nuint)address - ArenaSpace.Base;
        return offset < ArenaSpace.Bytes ? ArenaSpace.FrameAt(offset) : MappedFrameOf(address);
    }

    /// <summary>
    /// The frame of an address outside the arena space, through the section map, or <see cref="NoFrame"/>. An arena
    /// outside the space keeps its frames right after its header (Arena.cs), so they follow from the map's entry
    /// without loading the header. Out of line: on Linux only lent memory and foreign pointers come here.
    /// </summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static PageFrame* MappedFrameOf(void* address)
    {
        Arena* arena = SectionMap.Find(address);
        return arena == null ? (PageFrame*)NoFrame : Arena.FrameAfter(arena, address);
    }

    /// <summary>The all-zero frame <see cref="FrameOf"/> gives for an address in no arena; nothing ever writes it.</summary>
    private static readonly nuint NoFrame = (nuint)NativeMemory.AllocZeroed((nuint)sizeof(PageFrame));

    /// <summary>
    /// Returns the small blocks every thread keeps on its per-thread list (live threads' too) to the buddy lists,
    /// where they can coalesce (the kernel's <c>drain_all_pages</c>). Any thread may call it.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The allocator was disposed.</exception>
    public void DrainPerThreadPages()
    {
        ObjectDisposedException.ThrowIf(_id < 0, this);
        _pageLists.Drain(DrainScope.All);
    }

    /// <summary>Validates a free and returns the block's head frame, or throws without changing anything.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private PageFrame* BlockToFree(void* address, int order)
    {
        if ((uint)order > MaxOrder)
        {
            ThrowBadOrder(order);
        }

        Arena* arena = SectionMap.Find(address);
        if (arena == null || arena->OwnerId != _id)
        {
            ThrowForeign(address);
        }

        PageFrame* page = arena->FrameOf(address);
        if (page->Address != address || !page->IsPlainHead || page->Order != order)
        {
            ThrowBadFree(page, address, order);
        }

        return page;
    }

    [DoesNotReturn]
    private static void ThrowBadOrder(int order) =>
        throw new ArgumentOutOfRangeException(nameof(order), order, $"Order must be between 0 and {MaxOrder}.");

    [DoesNotReturn]
    private void ThrowForeign(void* address)
    {
        ObjectDisposedException.ThrowIf(_id < 0, this);
        throw new ArgumentException($"Foreign pointer: 0x{(nuint)address:x} is not in any arena of this page allocator.", nameof(address));
    }

    /// <summary>
    /// Marks the block that <paramref name="head"/> heads as taken by a layer above (<paramref name="tag"/>, not 0), or
    /// gives it back to plain page-allocator use (0) before the owner frees it. <paramref name="describe"/> tells a
    /// wrong FreePages of such a block what it is and how to free it; registered once per tag.
    /// </summary>
    internal static void SetOwner(PageFrame* head, byte tag, delegate*<PageFrame*, string> describe = null)
    {
        Debug.Assert(head->Flags == PageFlags.Head, "an owner tags the head of an allocated block");
        // Written once per tag, not on every new slab or large block: the shared array's line stays clean.
        if (describe != null && s_ownerDescriptions[tag] != (nint)describe)
        {
            s_ownerDescriptions[tag] = (nint)describe;
        }

        head->SetOwnerTag(tag);
    }

    /// <summary>Per owner tag: a function pointer saying what a block of that owner is, for FreePages' message.</summary>
    private static readonly nint[] s_ownerDescriptions = new nint[256];

    [DoesNotReturn]
    private static void ThrowBadFree(PageFrame* page, void* address, int order)
    {
        string problem = page->Flags switch
        {
            _ when page->Address != address => $"0x{(nuint)address:x} is not page-aligned",
            _ when page->Compound != page => $"interior pointer: 0x{(nuint)address:x} is inside the block at 0x{(nuint)page->Compound->Address:x}",
            PageFlags.Head when page->OwnerTag != 0 => $"the block at 0x{(nuint)address:x} " + (s_ownerDescriptions[page->OwnerTag] is not 0 and nint describe
                ? ((delegate*<PageFrame*, string>)describe)(page)
                : $"belongs to a layer above (owner tag {page->OwnerTag}), which frees it"),
            PageFlags.Head => $"wrong order: the block at 0x{(nuint)address:x} was allocated with order {page->Order}, freed with order {order}",
            _ => $"double free: the block at 0x{(nuint)address:x} is not allocated",
        };
        throw new ArgumentException($"Bad FreePages: {problem}.", nameof(address));
    }

    /// <summary>
    /// Gives all arenas back to the OS, once nothing uses them: every cache on this allocator destroyed and every
    /// block freed (blocks parked on threads' per-thread lists count as free). Never throws for what is left
    /// (.NET's rule for Dispose): while a cache or a block still uses the allocator, it stays in place and usable, and
    /// the leak is reported once, a <see cref="SlabGenEventSource.AllocatorLeaked"/> event and the
    /// <c>slabgen.pages.leaked_disposals</c> counter naming what is left. Dispose again once it is gone.
    /// </summary>
    /// <exception cref="InvalidOperationException">On <see cref="Shared"/>, which lives as long as the process.</exception>
    public void Dispose()
    {
        if (_isShared)
        {
            throw new InvalidOperationException("PageAllocator.Shared lives as long as the process and cannot be disposed.");
        }

        if (_id < 0)
        {
            return;
        }

        _pageLists.Drain(DrainScope.All);
        int id;
        string? leak = null;
        lock (_shrinkers)
        {
            lock (_zoneLock)
            {
                id = _id;
                if (id < 0)
                {
                    return;
                }

                long inUse = PagesInUseLocked();
                if (_shrinkers.Count != 0 || inUse != 0)
                {
                    leak = $"PageAllocator #{id} was disposed while in use: " + (_shrinkers.Count != 0
                        ? $"{_shrinkers.Count} cache(s) still take slabs from it ({string.Join(", ", _shrinkers.Take(8).Select(shrinker => $"'{shrinker.Name}'"))}{(_shrinkers.Count > 8 ? ", …" : "")}) and {inUse} page(s) are allocated. Destroy the caches"
                        : $"{inUse} page(s) are still allocated from it. Free them") +
                        " and dispose again; until then it keeps its memory and stays usable.";
                }
                else
                {
                    _id = -1;
                    Owners.ById.TryRemove(id, out _);
                }
            }
        }

        if (leak is not null)
        {
            if (Interlocked.Exchange(ref _leakReported, 1) == 0)
            {
                SlabGenEventSource.Log.AllocatorLeaked(id, leak);
                SlabGenMetrics.RecordLeakedDisposal(id);
            }

            return;
        }

        _pageLists.Close();
        MemoryPressure.Remove(this);
        lock (_zoneLock)
        {
            foreach (nint arena in _arenas)
            {
                Arena.Destroy((Arena*)arena);
            }

            _arenas.Clear();
            Array.Clear(_freeArea);
            _freePages = 0;
        }

        OwnerIds.Return(id);
    }

    /// <summary>Pages of the arenas that are not on a buddy list: allocated, or parked on a per-thread list. Under the zone lock.</summary>
    private long PagesInUseLocked()
    {
        long free = 0;
        for (int order = 0; order <= MaxOrder; order++)
        {
            free += (long)_freeArea[order].Count << order;
        }

        return ((long)_arenas.Count << MaxOrder) - free - _unusablePages;
    }
}
