using System.Globalization;
using BenchmarkDotNet.Reports;

namespace SlabGen.Benchmarks;

/// <summary>
/// The speed goals of the issues, as ratios between two cases of one benchmark class measured in the same run:
/// Peer's time divided by Target's must be at least Factor (for every parameter set). A Factor of 4 reads
/// "at least 4× faster than Peer"; a Factor of 0.5 reads "at most 2× Peer's time". Only, when set, limits a goal
/// to one parameter set (BenchmarkDotNet's display form, such as "[Size=64]") or one job (a native peer's name,
/// NativePeers.cs): both cases are then taken from that job, so from processes under that allocator.
/// </summary>
internal static class Goals
{
    private static readonly (string Class, string Target, string Peer, double Factor, string? Only)[] All =
    [
        (nameof(BatchBenchmarks), "[SlabCache] 1000 Alloc, 1000 Free", "[SlabCache] Alloc+Free pair", 1 / 1.5, "glibc"),
        (nameof(BatchBenchmarks), "KmemCache 1000 Alloc, 1000 Free", "KmemCache Alloc+Free pair", 1 / 1.5, "glibc"),
        (nameof(BatchBenchmarks), "Kmalloc(64) 1000, Kfree 1000", "Kmalloc(64)+Kfree pair", 1 / 1.5, "glibc"),
        (nameof(BatchBenchmarks), "[SlabCache] 1000 Alloc, 1000 Free", "NativeMemory.Alloc 1000, Free 1000", 2.0, "mimalloc"),
        (nameof(BatchBenchmarks), "KmemCache 1000 Alloc, 1000 Free", "NativeMemory.Alloc 1000, Free 1000", 2.0, "mimalloc"),
        (nameof(BatchBenchmarks), "Kmalloc(64) 1000, Kfree 1000", "NativeMemory.Alloc 1000, Free 1000", 2.0, "mimalloc"),
        (nameof(PageBenchmarks), "AllocPages+FreePages", "NativeMemory.AlignedAlloc+AlignedFree", 4.0, null),
        (nameof(ObjectBenchmarks), "KmemCache.Alloc+Free", "[ThreadStatic] free list pop+push", 0.5, null),
        (nameof(ObjectBenchmarks), "KmemCache.Alloc+Free", "NativeMemory.Alloc+Free", 5.0, null),
        (nameof(ObjectBenchmarks), "KmemCache.Alloc+Free", "ObjectPool<T>.Get+Return", 3.0, null),
        (nameof(ObjectBenchmarks), "[SlabCache] Alloc+Free", "NativeMemory.Alloc+Free", 8.0, null),
        (nameof(ObjectBenchmarks), "[SlabCache] Alloc+Free", "[ThreadStatic] free list pop+push", 1 / 1.5, null),
        (nameof(ObjectBenchmarks), "[SlabCache] Alloc+Free", "ObjectPool<T>.Get+Return", 4.0, null),
        (nameof(ThreadBenchmarks), "[SlabCache] pairs, 2 threads", "[SlabCache] pairs, 1 thread", 1.7, null),
        (nameof(ThreadBenchmarks), "[SlabCache] producer→consumer, 2 threads", "[SlabCache] pairs, 2 threads", 0.5, null),
        (nameof(KmallocBenchmarks), "Kmalloc+Kfree", "NativeMemory.Alloc+Free", 5.0, "[Size=64]"),
    ];

    /// <summary>Each goal measured in <paramref name="summaries"/>, once per job and parameter set.</summary>
    public static IReadOnlyList<GoalResult> Evaluate(IEnumerable<Summary> summaries)
    {
        var results = new List<GoalResult>();
        var seen = new HashSet<string>();
        Summary[] all = [.. summaries];
        foreach (Summary summary in all)
        {
            foreach ((string @class, string target, string peer, double factor, string? only) in All)
            {
                var cases = summary.Reports
                    .Where(r => r.BenchmarkCase.Descriptor.Type.Name == @class && r.ResultStatistics is not null
                        && (only is null || r.BenchmarkCase.Parameters.DisplayInfo == only || r.BenchmarkCase.Job.Id == only))
                    .GroupBy(r => $"{r.BenchmarkCase.Job.Id} {r.BenchmarkCase.Parameters.DisplayInfo}".Trim());
                foreach (var group in cases)
                {
                    BenchmarkReport? mine = group.FirstOrDefault(r => Name(r) == target);
                    BenchmarkReport? theirs = group.FirstOrDefault(r => Name(r) == peer);
                    if (mine is null || theirs is null || !seen.Add($"{@class}/{target}/{peer}/{group.Key}"))
                    {
                        continue;
                    }

                    results.Add(new GoalResult(target, peer, factor, group.Key, mine.ResultStatistics!.Mean, theirs.ResultStatistics!.Mean));
                }
            }
        }

        // A goal whose class ran but which matched no pair of cases measured nothing (a renamed case, a job that did
        // not run): it is reported, and counts as missed, instead of vanishing from the table.
        foreach ((string @class, string target, string peer, double factor, string? only) in All)
        {
            bool ran = all.Any(s => s.Reports.Any(r => r.BenchmarkCase.Descriptor.Type.Name == @class));
            if (ran && !results.Any(r => r.Target == target && r.Peer == peer && r.Factor == factor))
            {
                results.Add(new GoalResult(target, peer, factor, only ?? "", double.NaN, double.NaN));
            }
        }

        return results;
    }

    /// <summary>Prints each goal with its measured ratio; returns how many were missed.</summary>
    public static int Print(IReadOnlyList<GoalResult> results, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("| goal | parameters | target | peer | measured | result |");
        output.WriteLine("|---|---|---:|---:|---:|---|");
        foreach (GoalResult r in results)
        {
            if (!r.Measured)
            {
                output.WriteLine($"| {r.Target} {Describe(r.Factor)} {r.Peer} | {r.Group} | | | nothing: no such pair of cases ran | MISSED |");
                continue;
            }

            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Target} {Describe(r.Factor)} {r.Peer} | {r.Group} | {r.TargetNs:F1} ns | {r.PeerNs:F1} ns | {Measured(r.SpeedUp, r.Factor)} | {(r.Met ? "met" : "MISSED")} |"));
        }

        return results.Count(static r => !r.Met);
    }

    /// <summary>The case's description; BenchmarkDotNet quotes those with special characters.</summary>
    internal static string Name(BenchmarkReport report) => report.BenchmarkCase.Descriptor.WorkloadMethodDisplayInfo.Trim('\'');

    /// <summary>The measured ratio in the goal's own words: "6.1× faster", or for a time limit "1.3× the time".</summary>
    private static string Measured(double speedUp, double factor) => factor >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{speedUp:F1}× faster")
        : string.Create(CultureInfo.InvariantCulture, $"{1 / speedUp:F2}× the time");

    internal static string Describe(double factor) => factor >= 1
        ? string.Create(CultureInfo.InvariantCulture, $"≥ {factor}× faster than")
        : string.Create(CultureInfo.InvariantCulture, $"≤ {1 / factor:0.##}× the time of");
}

/// <summary>One goal measured in one job and parameter set: the two cases' mean times and whether the ratio holds.</summary>
internal sealed record GoalResult(string Target, string Peer, double Factor, string Group, double TargetNs, double PeerNs)
{
    /// <summary>The peer's time over the target's.</summary>
    public double SpeedUp => PeerNs / TargetNs;

    /// <summary>How far the measured ratio is from the goal: 1 is exactly the goal, more is better.</summary>
    public double OfGoal => SpeedUp / Factor;

    /// <summary>Whether both cases ran; a goal that measured nothing is missed.</summary>
    public bool Measured => !double.IsNaN(TargetNs) && !double.IsNaN(PeerNs);

    /// <summary>Whether the goal holds.</summary>
    public bool Met => Measured && SpeedUp >= Factor;
}
