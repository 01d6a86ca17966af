// The kernel's fragmentation index (mm/vmstat.c, __fragmentation_index, shown in
// /sys/kernel/debug/extfrag/extfrag_index): for an order no free block can serve, how much of the failure is
// fragmentation (towards 1) rather than lack of memory (towards 0); -1 when a free block of that order or larger exists.
namespace SlabGen.Top;

internal static class Fragmentation
{
    /// <summary>
    /// The fragmentation index of <paramref name="order"/> over <paramref name="freeBlocks"/> (free blocks per order), in
    /// the kernel's thousandths and integer arithmetic, as a fraction: -1 when the request would succeed, 0 when
    /// nothing is free, else <c>1 - (1 + free_pages / 2^order) / free_blocks</c>. Where the kernel's arithmetic goes
    /// below 0 (a few free pages, fewer than one request needs) the index is 0: the failure is lack of memory.
    /// </summary>
    public static double Index(IReadOnlyList<long> freeBlocks, int order)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(order);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(order, freeBlocks.Count);
        long total = 0, freePages = 0, suitable = 0;
        for (int o = 0; o < freeBlocks.Count; o++)
        {
            total += freeBlocks[o];
            freePages += freeBlocks[o] << o;
            if (o >= order)
            {
                suitable += freeBlocks[o] << (o - order);
            }
        }

        if (total == 0)
        {
            return 0;
        }

        if (suitable > 0)
        {
            return -1;
        }

        long requested = 1L << order;
        long thousandths = 1000 - (1000 + freePages * 1000 / requested) / total;
        return Math.Max(0, thousandths) / 1000.0;
    }
}
