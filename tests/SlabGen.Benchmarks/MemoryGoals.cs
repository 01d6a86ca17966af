using System.Globalization;

namespace SlabGen.Benchmarks;

/// <summary>
/// The in-process memory goals of the suite, on a private page allocator (memory is counted, not timed): the mixed
/// workload (MixedWorkload.cs) through exact-size caches, where the ratio goal is judged at the steady state, and
/// through a KmallocAllocator; then what a drop from the peak leaves, and finally everything freed and the allocator
/// trimmed. Deterministic (fixed seed): the same figures on every run of the same build. The comparison with the
/// native peers is MemoryPeers.cs.
/// </summary>
internal static unsafe class MemoryGoals
{
    private const long ArenaBytes = 4L << 20;
    private const double MaxOsBytesPerLiveByte = 1.25;

    /// <summary>Runs the workload, prints the table, returns how many goals were missed.</summary>
    public static int Check(TextWriter output)
    {
        using var pages = new PageAllocator();
        KmemCache[] caches = MixedWorkload.Sizes.Select(size => KmemCache.Create($"memory-{size}", (nuint)size, 0, pages: pages)).ToArray();
        var workload = new MixedWorkload(cache => (nint)caches[cache].Alloc(), (cache, obj) => caches[cache].Free((void*)obj), new Random(2026));
        (double steady, long steadyOsBytes, double afterDrop) = Run(workload, pages, () => Array.ForEach(caches, static c => c.Shrink()));
        int steadyObjects = workload.SteadyCount;
        long steadyLive = workload.SteadyLiveBytes;
        foreach (KmemCache cache in caches)
        {
            cache.Shrink();
            cache.Destroy();
        }

        pages.Trim();
        int arenasLeft = pages.ArenaCount;

        // The same workload through kmalloc's size classes (its own allocator), where class rounding adds to the waste.
        using var kmallocPages = new PageAllocator();
        var kmalloc = new KmallocAllocator(kmallocPages, "memory");
        var viaKmalloc = new MixedWorkload(cache => (nint)kmalloc.Kmalloc((nuint)MixedWorkload.Sizes[cache]), static (_, obj) => Kmem.Kfree((void*)obj), new Random(2026));
        (double kmallocSteady, long kmallocOsBytes, double kmallocAfterDrop) = Run(viaKmalloc, kmallocPages, () => ShrinkAll(kmalloc));
        kmalloc.Dispose();

        bool ratioMet = steady <= MaxOsBytesPerLiveByte;
        bool trimMet = arenasLeft <= 1;
        output.WriteLine();
        output.WriteLine("| memory goal | measured | result |");
        output.WriteLine("|---|---:|---|");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| mixed workload ({steadyObjects:N0} live objects of {MixedWorkload.Sizes.Length} sizes, {steadyLive >> 20} MiB, after 200,000 random replacements): bytes from the OS beyond the first arena per live byte ≤ {MaxOsBytesPerLiveByte} | {steady:F3} ({steadyOsBytes >> 20} MiB from the OS) | {(ratioMet ? "met" : "MISSED")} |"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| the same after a random third is freed (a drop from the peak; slabs stay partly used) | {afterDrop:F3} | (for reference) |"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| the same workload through Kmalloc (its size classes' rounding included): at the steady state, after the drop | {kmallocSteady:F3} ({kmallocOsBytes >> 20} MiB), {kmallocAfterDrop:F3} | (for reference) |"));
        output.WriteLine($"| after freeing everything, Shrink and Trim: at most 1 arena kept | {arenasLeft} | {(trimMet ? "met" : "MISSED")} |");
        return (ratioMet ? 0 : 1) + (trimMet ? 0 : 1);
    }

    /// <summary>Grows the workload to the target, churns, measures, drops a random third, measures again, frees everything.</summary>
    private static (double Steady, long SteadyOsBytes, double AfterDrop) Run(MixedWorkload workload, PageAllocator pages, Action shrink)
    {
        workload.GrowAndChurn();
        (double steady, long steadyOsBytes) = Measure(pages, shrink, workload.LiveBytes);
        workload.MarkSteady();
        workload.Drop();

        (double afterDrop, _) = Measure(pages, shrink, workload.LiveBytes);
        workload.FreeAll();
        return (steady, steadyOsBytes, afterDrop);
    }

    private static void ShrinkAll(KmallocAllocator kmalloc)
    {
        foreach (KmemCache cache in kmalloc.Caches)
        {
            cache.Shrink();
        }
    }

    /// <summary>Bytes from the OS beyond the first arena per live byte, after empty slabs and free arenas went back.</summary>
    private static (double PerLiveByte, long OsBytes) Measure(PageAllocator pages, Action shrink, long liveBytes)
    {
        shrink();
        pages.Trim();
        return ((double)(pages.BytesFromOs - ArenaBytes) / liveBytes, pages.BytesFromOs);
    }
}
