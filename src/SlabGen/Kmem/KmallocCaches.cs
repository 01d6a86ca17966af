// The kmalloc size classes, as the kernel's (mm/slab_common.c): kmalloc-8 … kmalloc-8k, found by size through
// a table for sizes up to 192 (size_index) and the highest set bit above, never by a loop.
using System.Numerics;
using System.Runtime.CompilerServices;

namespace SlabGen;

internal static unsafe class KmallocCaches
{
    /// <summary>The largest size served by a slab cache; above it kmalloc takes pages.</summary>
    public const int MaxCacheSize = 8192;

    private static readonly int[] Sizes = [8, 16, 32, 64, 96, 128, 192, 256, 512, 1024, 2048, 4096, 8192];

    /// <summary>Class index for sizes 0..192, by (size + 7) / 8: the kernel's size_index, with 0 counted as 1.</summary>
    private static readonly byte[] SizeIndex =
    [
        0,                // 0
        0,                // 1..8     kmalloc-8
        1,                // 9..16    kmalloc-16
        2, 2,             // 17..32   kmalloc-32
        3, 3, 3, 3,       // 33..64   kmalloc-64
        4, 4, 4, 4,       // 65..96   kmalloc-96
        5, 5, 5, 5,       // 97..128  kmalloc-128
        6, 6, 6, 6, 6, 6, 6, 6, // 129..192 kmalloc-192
    ];

    public static readonly KmemCache[] Caches = Array.ConvertAll(Sizes, Create);

    /// <summary>The cache for <paramref name="size"/> (1..8192; 0 counts as 1).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static KmemCache For(nuint size) => Caches[size <= 192 ? SizeIndex[(int)(size + 7) >> 3] : BitOperations.Log2(size - 1)];

    private static KmemCache Create(int size)
    {
        string name = size >= 1024 ? $"kmalloc-{size / 1024}k" : $"kmalloc-{size}";
        // Power-of-two classes are aligned to their size, as SLUB guarantees; 96 and 192 to their largest power-of-two divisor.
        nuint align = (nuint)Math.Min(size & -size, PageAllocator.PageSize);
        return KmemCache.Create(name, (nuint)size, align);
    }
}
