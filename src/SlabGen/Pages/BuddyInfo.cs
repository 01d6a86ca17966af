using System.Globalization;
using System.Text;

namespace SlabGen;

/// <summary>
/// A snapshot of a page allocator's free blocks: how many of each order its buddy free lists hold, as
/// <c>/proc/buddyinfo</c> shows them, and apart from those the free blocks parked on threads' per-thread lists
/// (which /proc/buddyinfo does not count either), so that no free page is invisible.
/// </summary>
public sealed class BuddyInfo
{
    private readonly long[] _freeBlocks;
    private readonly long[] _perThreadBlocks;

    internal BuddyInfo(long[] freeBlocks, long[] perThreadBlocks)
    {
        _freeBlocks = freeBlocks;
        _perThreadBlocks = perThreadBlocks;
    }

    /// <summary>The number of free blocks of each order 0..<see cref="PageAllocator.MaxOrder"/> on the buddy lists.</summary>
    public IReadOnlyList<long> FreeBlocks => _freeBlocks;

    /// <summary>
    /// The number of free blocks of each order 0..<see cref="PageAllocator.MaxOrder"/> parked on threads' per-thread
    /// lists (orders above 5 are always 0). <see cref="PageAllocator.DrainPerThreadPages"/> moves them to the buddy lists.
    /// </summary>
    public IReadOnlyList<long> PerThreadBlocks => _perThreadBlocks;

    /// <summary>The free pages on the buddy lists: the sum of FreeBlocks[order] × 2^order.</summary>
    public long FreePages => Pages(_freeBlocks);

    /// <summary>The free pages parked on per-thread lists: the sum of PerThreadBlocks[order] × 2^order.</summary>
    public long PerThreadPages => Pages(_perThreadBlocks);

    /// <summary>The per-thread lists' line, in the layout of <see cref="ToString"/>: <c>Node 0, zone PerThread</c> and a count per order.</summary>
    /// <returns>The line, in /proc/buddyinfo's layout, with the zone named PerThread.</returns>
    public string PerThreadLine() => Line("Node 0, zone PerThread ", _perThreadBlocks);

    /// <summary>The line of <c>/proc/buddyinfo</c>: <c>Node 0, zone   Normal</c> and a count per order.</summary>
    /// <returns>The line, as /proc/buddyinfo prints it.</returns>
    public override string ToString() => Line("Node 0, zone   Normal ", _freeBlocks);

    private static long Pages(long[] blocks)
    {
        long pages = 0;
        for (int order = 0; order < blocks.Length; order++)
        {
            pages += blocks[order] << order;
        }

        return pages;
    }

    private static string Line(string prefix, long[] blocks)
    {
        var line = new StringBuilder(prefix);
        foreach (long count in blocks)
        {
            line.Append(count.ToString(CultureInfo.InvariantCulture).PadLeft(6)).Append(' ');
        }

        return line.ToString();
    }
}
