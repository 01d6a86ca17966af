// The page layer's instruments on the SlabGen meter (Diagnostics/SlabGenMetrics.cs): every live page allocator's free
// blocks per order (/proc/buddyinfo), per-thread pages, arenas, bytes from the OS and reserve. Registered once, by the
// first page allocator made.
using System.Diagnostics.Metrics;

namespace SlabGen;

internal static class PageAllocatorMetrics
{
    private static readonly bool s_registered = Register();

    /// <summary>Adds the page-allocator instruments to the meter, once.</summary>
    public static void EnsureRegistered() => _ = s_registered;

    private static bool Register()
    {
        SlabGenMetrics.Observe(Contract.PagesFreeBlocks, FreeBlocks,
            "{block}", "Free blocks of each live page allocator, per order (/proc/buddyinfo).");
        SlabGenMetrics.Observe(Contract.PagesPerThreadPages, static () => PerAllocator(static a => a.BuddyInfo().PerThreadPages),
            "{page}", "Free pages of each live page allocator parked on threads' per-thread lists.");
        SlabGenMetrics.Observe(Contract.PagesArenas, static () => PerAllocator(static a => (long)a.ArenaCount),
            "{arena}", "4 MiB arenas each live page allocator holds.");
        SlabGenMetrics.Observe(Contract.PagesOsBytes, static () => PerAllocator(static a => a.BytesFromOs),
            "By", "Bytes each live page allocator has taken from the OS (0 for one over caller memory).");
        SlabGenMetrics.Observe(Contract.PagesReserved, static () => PerAllocator(static a => a.ReservedBytes),
            "By", "Bytes each live page allocator keeps free for Atomic allocations (PageAllocator.Reserve).");
        return true;
    }

    /// <summary>A measurement per live page allocator, tagged with its name and id; a disposed one is skipped.</summary>
    private static IEnumerable<Measurement<long>> PerAllocator(Func<PageAllocator, long> value)
    {
        foreach (PageAllocator allocator in PageAllocator.Live)
        {
            long measured;
            try
            {
                measured = value(allocator);
            }
            catch (ObjectDisposedException)
            {
                continue; // disposed between the listing and the reading
            }

            yield return new Measurement<long>(measured, AllocatorTags(allocator));
        }
    }

    private static IEnumerable<Measurement<long>> FreeBlocks()
    {
        foreach (PageAllocator allocator in PageAllocator.Live)
        {
            IReadOnlyList<long> free;
            try
            {
                free = allocator.BuddyInfo().FreeBlocks;
            }
            catch (ObjectDisposedException)
            {
                continue;
            }

            for (int order = 0; order < free.Count; order++)
            {
                yield return new Measurement<long>(free[order], [.. AllocatorTags(allocator), new KeyValuePair<string, object?>(SlabGenMetrics.OrderTag, order)]);
            }
        }
    }

    private static KeyValuePair<string, object?>[] AllocatorTags(PageAllocator allocator) =>
        [new(SlabGenMetrics.PagesNameTag, allocator.Name), new(SlabGenMetrics.AllocatorTag, allocator.Id)];
}
