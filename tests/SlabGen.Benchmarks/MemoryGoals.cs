using System.Globalization;

namespace SlabGen.Benchmarks;

/// <summary>
/// The memory goals of the suite, measured in-process on a private page allocator (memory is counted, not timed):
/// a mixed workload of six object sizes with random frees in between, then everything freed, caches shrunk and
/// the allocator trimmed. Deterministic (fixed seed): the same figures on every run of the same build.
/// </summary>
internal static unsafe class MemoryGoals
{
    private const long ArenaBytes = 4L << 20;
    private const double MaxOsBytesPerLiveByte = 1.25;

    private static readonly int[] Sizes = [24, 64, 100, 256, 700, 3000];

    /// <summary>Runs the workload, prints the table, returns how many goals were missed.</summary>
    public static int Check(TextWriter output)
    {
        using var pages = new PageAllocator();
        KmemCache[] caches = Sizes.Select(size => KmemCache.Create($"memory-{size}", (nuint)size, 0, pages: pages)).ToArray();
        var live = new List<(int Cache, nint Object)>();
        var random = new Random(2026);
        long liveBytes = 0;

        // Grow to about 64 MiB of live objects, freeing a random third of them after every step of 8 MiB.
        double peakPerLiveByte = 0;
        for (int step = 0; step < 8; step++)
        {
            while (liveBytes < (step + 1) * (8L << 20))
            {
                int cache = random.Next(caches.Length);
                live.Add((cache, (nint)caches[cache].Alloc()));
                liveBytes += Sizes[cache];
            }

            peakPerLiveByte = (double)(pages.BytesFromOs - ArenaBytes) / liveBytes;

            for (int i = live.Count - 1; i >= 0; i--)
            {
                if (random.Next(3) == 0)
                {
                    (int cache, nint obj) = live[i];
                    caches[cache].Free((void*)obj);
                    liveBytes -= Sizes[cache];
                    live[i] = live[^1];
                    live.RemoveAt(live.Count - 1);
                }
            }
        }

        // The steady state: empty slabs and fully free arenas given back, what remains is what the live set costs.
        Array.ForEach(caches, static c => c.Shrink());
        pages.Trim();
        long osBytes = pages.BytesFromOs;
        double perLiveByte = (double)(osBytes - ArenaBytes) / liveBytes;

        foreach ((int cache, nint obj) in live)
        {
            caches[cache].Free((void*)obj);
        }

        foreach (KmemCache cache in caches)
        {
            cache.Shrink();
            cache.Destroy();
        }

        pages.Trim();
        int arenasLeft = pages.ArenaCount;

        bool ratioMet = perLiveByte <= MaxOsBytesPerLiveByte;
        bool trimMet = arenasLeft <= 1;
        output.WriteLine();
        output.WriteLine("| memory goal | measured | result |");
        output.WriteLine("|---|---:|---|");
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| mixed workload at its peak (64 MiB live, no frees yet in the last step): bytes from the OS beyond the first arena per live byte | {peakPerLiveByte:F3} | (for reference) |"));
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| mixed workload after random frees, Shrink and Trim ({live.Count:N0} live objects of {Sizes.Length} sizes, {liveBytes / (1 << 20)} MiB): bytes from the OS beyond the first arena per live byte ≤ {MaxOsBytesPerLiveByte} | {perLiveByte:F3} ({osBytes / (1 << 20)} MiB from the OS) | {(ratioMet ? "met" : "MISSED")} |"));
        output.WriteLine($"| after freeing everything, Shrink and Trim: at most 1 arena kept | {arenasLeft} | {(trimMet ? "met" : "MISSED")} |");
        return (ratioMet ? 0 : 1) + (trimMet ? 0 : 1);
    }
}
