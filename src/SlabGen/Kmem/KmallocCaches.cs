// The kmalloc size classes: the kernel's (mm/slab_common.c, kmalloc-8 … kmalloc-8k with 96 and 192), plus a class at
// 1.5 × every other power of two (24, 48, 384, 768, 1536, 3072, 6144; the 3·2ⁿ series is then complete from 24), so
// above 16 bytes a request wastes less than a third of its slot instead of up to half: two classes per doubling. Found
// by size through a table up to 192 (size_index) and from the highest set bit and the bit below it above, never by a
// loop.
//
// The fast path does not go through the caches' objects: each thread has a table of its array-cache blocks, one
// per class, reached through one thread static. Kmalloc indexes it by the class of the size (a constant when the
// size is); Kfree by the class its slab's frame records. The caches are never destroyed, so a block in the table
// stays its cache's for the thread's life, with no cookie to check. The blocks are the ones the slot table holds, so
// drains reach them like any other (docs/per-thread.md).
using System.Diagnostics.CodeAnalysis;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SlabGen;

internal static unsafe class KmallocCaches
{
    /// <summary>The largest size served by a slab cache; above it kmalloc takes pages.</summary>
    public const int MaxCacheSize = Contract.KmallocMaxCacheSize;

    private static readonly int[] Sizes = [8, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192];

    /// <summary>The caches by class: class c (1..20) is Caches[c - 1]; class 0 is "not a kmalloc cache".</summary>
    public static KmemCache[] Caches => SharedSet.Caches;

    /// <summary>
    /// The shared caches, in a class of their own so that only kmalloc's own calls make them (and so touch
    /// <see cref="PageAllocator.Shared"/>): a <see cref="KmallocAllocator"/> over other pages never does.
    /// </summary>
    private static class SharedSet
    {
        public static readonly KmemCache[] Caches = CreateSet(PageAllocator.Shared, "", shared: true);
    }

    /// <summary>
    /// Class for sizes 0..192, by (size + 7) / 8: the kernel's size_index, with 0 counted as 1. Static data, so
    /// the JIT reads it at compile time for a constant size.
    /// </summary>
    private static ReadOnlySpan<byte> SizeIndex =>
    [
        1,                // 0
        1,                // 1..8     kmalloc-8
        2,                // 9..16    kmalloc-16
        3,                // 17..24   kmalloc-24
        4,                // 25..32   kmalloc-32
        5, 5,             // 33..48   kmalloc-48
        6, 6,             // 49..64   kmalloc-64
        7, 7, 7, 7,       // 65..96   kmalloc-96
        8, 8, 8, 8,       // 97..128  kmalloc-128
        9, 9, 9, 9, 9, 9, 9, 9, // 129..192 kmalloc-192
    ];

    /// <summary>
    /// The class (1..20) of <paramref name="size"/> (0..8192; 0 counts as 1). Above 192, with 2^k &lt; size ≤ 2^(k+1),
    /// the pair of classes of that doubling starts at 2k - 5 (256 alone for k = 7), and the bit below the highest of
    /// size - 1 says whether size is past 1.5 × 2^k.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static int ClassOf(nuint size)
    {
        if (size <= 192)
        {
            return SizeIndex[(int)(size + 7) >> 3];
        }

        int k = BitOperations.Log2(size - 1);
        return (2 * k) - 5 + (int)(((size - 1) >> (k - 1)) & 1);
    }

    /// <summary>The cache for <paramref name="size"/> (0..8192; 0 counts as 1).</summary>
    public static KmemCache For(nuint size) => Caches[ClassOf(size) - 1];

    /// <summary>Takes the per-thread table's thread statics into the runtime's inline storage as SlabGen loads (PerThread/ThreadStaticStorage.cs).</summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries", Justification = "Claims the runtime's inline thread-static storage for a hot path before other code's thread statics can (ThreadStaticStorage.cs in PerThread/).")]
    internal static void ClaimThreadStatics() => ThreadStaticStorage.Claim(PerThread.Blocks == null ? 0 : 1);

    /// <summary>The calling thread's blocks, indexed by class (slot 0, "not kmalloc", stays null); null before its first kmalloc.</summary>
    public static nint* ThreadBlocks
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => PerThread.Blocks;
    }

    /// <summary>The calling thread's block of class <paramref name="kmallocClass"/> (0..20), or null: none yet, or class 0.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint* ThreadBlock(int kmallocClass)
    {
        nint* blocks = PerThread.Blocks;
        return blocks == null ? null : (nint*)blocks[kmallocClass];
    }

    /// <summary>Kmalloc's slow path: the cache's own (a debug cache keeps the size asked for), then the thread's block of the class is remembered.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void* AllocSlow(int kmallocClass, nuint size, GfpFlags flags)
    {
        KmemCache cache = Caches[kmallocClass - 1];
        void* obj = cache.AllocSized(flags, (int)Math.Max(size, 1));
        Remember(kmallocClass, cache);
        return obj;
    }

    /// <summary>Kfree's slow path for a slab object: a full block, a thread without a block yet, or a slab of another cache.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    public static void FreeSlow(void* obj, PageFrame* slab)
    {
        int kmallocClass = SlabPage.Of(slab)->KmallocClass;
        if (kmallocClass == 0)
        {
            KmemCache.FreeToSlabCache(obj, slab);
            return;
        }

        KmemCache cache = Caches[kmallocClass - 1];
        cache.Free(obj);
        Remember(kmallocClass, cache);
    }

    private static void Remember(int kmallocClass, KmemCache cache)
    {
        nint* block = cache.ThreadBlock();
        if (block != null)
        {
            ThreadBlocksCreated[kmallocClass] = (nint)block;
        }
    }

    /// <summary>The calling thread's table, made empty if the thread has none yet; it stays at one address for the thread's life.</summary>
    public static nint* ThreadBlocksCreated
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => PerThread.Blocks != null ? PerThread.Blocks : CreateThreadBlocks();
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static nint* CreateThreadBlocks()
    {
        PerThread.Storage = GC.AllocateArray<nint>(Sizes.Length + 1, pinned: true);
        PerThread.Blocks = (nint*)Unsafe.AsPointer(ref PerThread.Storage[0]);
        return PerThread.Blocks;
    }

    /// <summary>
    /// One cache per class over <paramref name="pages"/>, named <c>{prefix}kmalloc-64</c> and so on. The shared set
    /// lives as long as the process and tags its slabs with their class (Kfree's per-thread table); another
    /// <see cref="KmallocAllocator"/>'s set is ordinary caches its Dispose destroys, freed through their own fast path.
    /// </summary>
    internal static KmemCache[] CreateSet(PageAllocator pages, string prefix, bool shared)
    {
        var caches = new KmemCache[Sizes.Length];
        for (int i = 0; i < Sizes.Length; i++)
        {
            int size = Sizes[i];
            string name = prefix + (size >= 1024 && size % 1024 == 0 ? $"kmalloc-{size / 1024}k" : $"kmalloc-{size}");
            // Power-of-two classes are aligned to their size, as SLUB guarantees; the others (24, 48, 96, …, 6144) to
            // their largest power-of-two divisor (8, 16, 32, …, 2048).
            nuint align = (nuint)Math.Min(size & -size, PageAllocator.PageSize);
            caches[i] = KmemCache.Create(name, (nuint)size, align, pages: pages);
            caches[i].MakeKmallocCache(shared ? (byte)(i + 1) : (byte)0);
        }

        return caches;
    }

    /// <summary>The thread statics, in a class without a static constructor so the JIT reads them straight from the thread's TLS block.</summary>
    private static class PerThread
    {
        /// <summary>The calling thread's block of each class, indexed by class (slot 0 stays null); null until the thread's first kmalloc.</summary>
        [ThreadStatic]
        public static nint* Blocks;

        /// <summary>Keeps <see cref="Blocks"/> alive while the thread lives.</summary>
        [ThreadStatic]
        public static nint[]? Storage;
    }
}
