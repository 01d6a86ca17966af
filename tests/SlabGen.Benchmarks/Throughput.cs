using System.Globalization;
using BenchmarkDotNet.Reports;

namespace SlabGen.Benchmarks;

/// <summary>
/// The thread cases as throughput: pairs per second for each case (every case's time is per pair, all threads
/// together), and for each allocator the scaling factor of 2 threads over 1 (same-thread frees).
/// </summary>
internal static class Throughput
{
    private static readonly string[] Allocators = ["[SlabCache]", "NativeMemory"];

    /// <summary>Prints the table when the run has thread cases.</summary>
    public static void Print(IEnumerable<Summary> summaries, TextWriter output)
    {
        var cases = summaries.SelectMany(s => s.Reports)
            .Where(r => r.BenchmarkCase.Descriptor.Type.Name == nameof(ThreadBenchmarks) && r.ResultStatistics is not null)
            .ToDictionary(Goals.Name, r => r.ResultStatistics!.Mean);
        if (cases.Count == 0)
        {
            return;
        }

        output.WriteLine();
        output.WriteLine("| thread case | ns per pair | million pairs per second |");
        output.WriteLine("|---|---:|---:|");
        foreach ((string name, double nanoseconds) in cases)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| {name} | {nanoseconds:F2} | {PairsPerSecond(nanoseconds) / 1e6:F0} |"));
        }

        foreach (string allocator in Allocators)
        {
            if (cases.TryGetValue($"{allocator} pairs, 1 thread", out double one) && cases.TryGetValue($"{allocator} pairs, 2 threads", out double two))
            {
                output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {allocator}: 2 threads over 1 (scaling) | | {PairsPerSecond(two) / PairsPerSecond(one):F2}× |"));
            }
        }
    }

    /// <summary>Pairs per second for a time per pair in nanoseconds.</summary>
    private static double PairsPerSecond(double nanosecondsPerPair) => 1e9 / nanosecondsPerPair;
}
