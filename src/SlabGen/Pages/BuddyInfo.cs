using System.Globalization;
using System.Text;

namespace SlabGen;

/// <summary>
/// A snapshot of a page allocator's buddy free lists: how many free blocks of each order it holds,
/// as <c>/proc/buddyinfo</c> shows them. Pages cached on per-thread lists are not counted, as in the kernel.
/// </summary>
public sealed class BuddyInfo
{
    private readonly long[] _freeBlocks;

    internal BuddyInfo(long[] freeBlocks) => _freeBlocks = freeBlocks;

    /// <summary>The number of free blocks of each order 0..<see cref="PageAllocator.MaxOrder"/>.</summary>
    public IReadOnlyList<long> FreeBlocks => _freeBlocks;

    /// <summary>The free pages on the buddy lists: the sum of FreeBlocks[order] × 2^order.</summary>
    public long FreePages
    {
        get
        {
            long pages = 0;
            for (int order = 0; order < _freeBlocks.Length; order++)
            {
                pages += _freeBlocks[order] << order;
            }

            return pages;
        }
    }

    /// <summary>The line of <c>/proc/buddyinfo</c>: <c>Node 0, zone   Normal</c> and a count per order.</summary>
    public override string ToString()
    {
        var line = new StringBuilder("Node 0, zone   Normal ");
        foreach (long count in _freeBlocks)
        {
            line.Append(count.ToString(CultureInfo.InvariantCulture).PadLeft(6)).Append(' ');
        }

        return line.ToString();
    }
}
