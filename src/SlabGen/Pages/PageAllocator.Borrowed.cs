// A page allocator over memory the caller owns: a block from the caller's own mapping, a static buffer, memory shared
// with a device. No OS call, ever: the arenas' headers and page frames are carved from the block's first pages, every
// 4 MiB section the block touches becomes an arena whose pages outside the block (and under the frames) are never
// free, so the buddy merge never crosses into them (the kernel's holes in a zone), and nothing goes back to the OS.
using System.Numerics;

namespace SlabGen;

public sealed unsafe partial class PageAllocator
{
    /// <summary>Creates an allocator over memory the caller owns, with the default tuning (see the overload with options).</summary>
    /// <param name="memory">The block's first byte.</param>
    /// <param name="length">The block's length in bytes.</param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException">The block holds no page beyond the frames, or shares a 4 MiB section with another allocator's memory.</exception>
    public PageAllocator(void* memory, nuint length)
        : this(memory, length, null)
    {
    }

    /// <summary>
    /// Creates an allocator over <paramref name="length"/> bytes at <paramref name="memory"/>, which the caller owns and
    /// keeps valid until the allocator is disposed: it never takes memory from the OS or gives any back, and its cap is
    /// the block. The page frames (64 bytes per page of every 4 MiB section the block touches) come from the block's
    /// first pages; a block aligned to 4 MiB whose length is a multiple of 4 MiB wastes nothing else, and any other
    /// block loses its partial pages at both ends.
    /// </summary>
    /// <remarks>
    /// Free the block only after <see cref="Dispose"/> succeeded: a Dispose that finds caches or pages still in use
    /// reports the leak and leaves the allocator in place, still using the block.
    /// </remarks>
    /// <param name="memory">The block's first byte.</param>
    /// <param name="length">The block's length in bytes.</param>
    /// <param name="options">Tuning (<see cref="PageAllocatorOptions.PerThreadPages"/>, trims); <see cref="PageAllocatorOptions.MaxBytes"/> must be null.</param>
    /// <exception cref="ArgumentNullException"><paramref name="memory"/> is null.</exception>
    /// <exception cref="ArgumentException">
    /// The block holds no page beyond the frames, lies beyond a 48-bit address space, or shares a 4 MiB section with
    /// another allocator's memory (two blocks in one section, or memory of a SlabGen allocator); or options set MaxBytes.
    /// </exception>
    /// <exception cref="ArgumentOutOfRangeException">Options with a bad <see cref="PageAllocatorOptions.PerThreadPages"/>.</exception>
    public PageAllocator(void* memory, nuint length, PageAllocatorOptions? options)
        : this(options is { MaxBytes: not null }
            ? throw new ArgumentException("MaxBytes does not apply to an allocator over caller memory: the block is its cap.", nameof(options))
            : options ?? new PageAllocatorOptions(), borrowed: true)
    {
        ArgumentNullException.ThrowIfNull(memory);
        nuint start = ((nuint)memory + PageSize - 1) & ~(nuint)(PageSize - 1);
        nuint end = ((nuint)memory + length) & ~(nuint)(PageSize - 1);
        nuint firstSection = start >> Arena.Shift;
        nuint sections = end > start ? ((end - 1) >> Arena.Shift) - firstSection + 1 : 0;
        nuint metadata = (sections * Arena.MetadataBytes + PageSize - 1) & ~(nuint)(PageSize - 1);
        if (end <= start || end - start <= metadata)
        {
            Dispose();
            throw new ArgumentException($"{length:N0} bytes at 0x{(nuint)memory:x} hold {(end > start ? (end - start) / PageSize : 0):N0} whole pages, " +
                $"and the page frames of the {sections} section(s) they touch take {metadata / PageSize:N0}: nothing would be left to allocate.", nameof(length));
        }

        nuint usable = start + metadata;
        // Every section checked before a byte is written: the block may overlap memory another allocator holds.
        Arena*[]? arenas = SectionMap.RegisterBorrowed((byte*)start, firstSection, sections, _id, out nuint taken);
        if (arenas is null)
        {
            Dispose();
            throw new ArgumentException($"The 4 MiB section at 0x{taken << Arena.Shift:x} that the block touches belongs to another allocator's memory " +
                "(another block in the same section, or memory of a SlabGen allocator) or lies beyond a 48-bit address space. Nothing was written.", nameof(memory));
        }

        for (nuint i = 0; i < sections; i++)
        {
            var sectionBase = (byte*)((firstSection + i) << Arena.Shift);
            Arena* arena = arenas[i];
            _arenas.Add((nint)arena);
            nuint from = Math.Max(usable, (nuint)sectionBase), to = Math.Min(end, (nuint)sectionBase + Arena.Bytes);
            FreeRange(arena, (from - (nuint)sectionBase) / PageSize, (to - (nuint)sectionBase) / PageSize);
            _unusablePages += Arena.Pages - (long)((to - from) / PageSize);
        }

        _arenasClaimed = (long)sections;
        MaxBytes = (long)(end - usable);
    }

    /// <summary>Puts pages [<paramref name="first"/>, <paramref name="end"/>) of a new arena on the free lists as the largest aligned blocks.</summary>
    private void FreeRange(Arena* arena, nuint first, nuint end)
    {
        lock (_zoneLock)
        {
            for (nuint page = first; page < end;)
            {
                int order = Math.Min(page == 0 ? MaxOrder : BitOperations.TrailingZeroCount(page), BitOperations.Log2(end - page));
                order = Math.Min(order, MaxOrder);
                AddToFreeList(arena->Frames + page, order);
                page += (nuint)1 << order;
            }
        }
    }
}
