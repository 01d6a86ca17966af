using System.Globalization;
using BenchmarkDotNet.Engines;
using BenchmarkDotNet.Reports;

namespace SlabGen.Benchmarks;

/// <summary>
/// The speed goals of the issues, as ratios between two cases of one benchmark class measured in the same run:
/// Peer's time divided by Target's must be at least Factor (for every parameter set). A Factor of 4 reads
/// "at least 4× faster than Peer"; a Factor of 0.5 reads "at most 2× Peer's time". Only, when set, limits a goal
/// to one parameter set (BenchmarkDotNet's display form, such as "[Size=64]") or one job (a native peer's name,
/// NativePeers.cs): both cases are then taken from that job, so from processes under that allocator.
/// </summary>
/// <summary>
/// The speed goals of issue #18, as ratios between two cases of one benchmark class measured in the same run: Peer's
/// time divided by Target's must be at least Factor. A Factor of 2 reads "at least 2× faster than Peer"; a Factor of
/// 1/3 reads "at most 3× Peer's time". Job, when set, takes both cases from that job (a native peer's name,
/// NativePeers.cs, or "glibc"), so from processes under that allocator; Params limits a goal to one parameter set
/// (BenchmarkDotNet's display form, such as "[Order=0]"). A PerProcess goal is judged on the median of the ratios
/// of each process (BenchmarkDotNet's launches) rather than on the means over all of them, because the floor is
/// bimodal between processes. The goals set earlier against glibc alone are retired.
/// </summary>
internal static class Goals
{
    private const string Pair = "NativeMemory.Alloc+Free pair", Batch = "NativeMemory.Alloc 1000, Free 1000";

    private static readonly string[] Jobs = ["mimalloc", "jemalloc", "tcmalloc", "glibc"];

    private static readonly Goal[] All =
    [
        .. SixtyFourByteCases(),
        new(nameof(PageBenchmarks), "AllocPages+FreePages", "NativeMemory.AlignedAlloc+AlignedFree", 1.0, "tcmalloc", "[Order=0]"),
        new(nameof(PageBenchmarks), "AllocPages+FreePages", "NativeMemory.AlignedAlloc+AlignedFree", 3.0, "glibc", "[Order=0]"),
        new(nameof(WorkloadBenchmarks), "larson, Kmalloc", "larson, NativeMemory", 1.0, "mimalloc"),
        new(nameof(WorkloadBenchmarks), "xmalloc-test, Kmalloc", "xmalloc-test, NativeMemory", 1.0, "mimalloc"),
        new(nameof(ThreadBenchmarks), "[SlabCache] producer→consumer, 2 threads", "hand-off only (no allocation), 2 threads", 1 / 3.0),
        new(nameof(ObjectBenchmarks), "[SlabCache] Alloc+Free", "[ThreadStatic] free list pop+push", 1 / 1.2, PerProcess: true),
        new(nameof(ObjectBenchmarks), "KmemCache.Alloc+Free", "[ThreadStatic] free list pop+push", 1 / 1.6, PerProcess: true),
        new(nameof(ObjectBenchmarks), "Kmalloc(64)+Kfree", "[ThreadStatic] free list pop+push", 1 / 2.0, PerProcess: true),
    ];

    /// <summary>Each 64-byte case, pair and batch of 1,000: ≥ 2× faster than mimalloc, faster than the others.</summary>
    private static IEnumerable<Goal> SixtyFourByteCases() =>
        from target in (string[])["[SlabCache] Alloc+Free pair", "KmemCache Alloc+Free pair", "Kmalloc(64)+Kfree pair",
            "[SlabCache] 1000 Alloc, 1000 Free", "KmemCache 1000 Alloc, 1000 Free", "Kmalloc(64) 1000, Kfree 1000"]
        from job in Jobs
        select new Goal(nameof(BatchBenchmarks), target, target.Contains("pair", StringComparison.Ordinal) ? Pair : Batch, job == "mimalloc" ? 2.0 : 1.0, job);

    /// <summary>Each goal measured in <paramref name="summaries"/>, once per job and parameter set.</summary>
    public static IReadOnlyList<GoalResult> Evaluate(IEnumerable<Summary> summaries)
    {
        var results = new List<GoalResult>();
        Summary[] all = [.. summaries];
        foreach (Goal goal in All)
        {
            var groups = all.SelectMany(static s => s.Reports)
                .Where(r => r.BenchmarkCase.Descriptor.Type.Name == goal.Class && r.ResultStatistics is not null
                    && (goal.Job is null || r.BenchmarkCase.Job.Id == goal.Job)
                    && (goal.Params is null || r.BenchmarkCase.Parameters.DisplayInfo == goal.Params))
                .GroupBy(static r => $"{r.BenchmarkCase.Job.Id} {r.BenchmarkCase.Parameters.DisplayInfo}".Trim());
            int before = results.Count;
            foreach (var group in groups)
            {
                BenchmarkReport? mine = group.FirstOrDefault(r => Name(r) == goal.Target);
                BenchmarkReport? theirs = group.FirstOrDefault(r => Name(r) == goal.Peer);
                if (mine is not null && theirs is not null)
                {
                    results.Add(goal.PerProcess
                        ? GoalResult.PerProcess(goal, group.Key, PerLaunchMeans(mine), PerLaunchMeans(theirs))
                        : new GoalResult(goal.Target, goal.Peer, goal.Factor, group.Key, mine.ResultStatistics!.Mean, theirs.ResultStatistics!.Mean));
                }
            }

            // A goal whose class ran but which matched no pair of cases measured nothing (a renamed case, a job that
            // did not run, a peer not installed): it is reported, and counts as missed, instead of vanishing.
            bool ran = all.Any(s => s.Reports.Any(r => r.BenchmarkCase.Descriptor.Type.Name == goal.Class));
            if (ran && results.Count == before)
            {
                results.Add(new GoalResult(goal.Target, goal.Peer, goal.Factor, $"{goal.Job} {goal.Params}".Trim(), double.NaN, double.NaN));
            }
        }

        return results;
    }

    /// <summary>Cases of the SlabGen side that allocated managed memory (the goal is 0 B everywhere).</summary>
    public static IReadOnlyList<string> Allocating(IEnumerable<Summary> summaries) =>
        [.. summaries.SelectMany(static s => s.Reports)
            .Where(static r => r.ResultStatistics is not null && IsSlabGen(Name(r)) && r.GcStats.GetBytesAllocatedPerOperation(r.BenchmarkCase) > 0)
            .Select(static r => $"{r.BenchmarkCase.Descriptor.Type.Name}: {Name(r)} {r.BenchmarkCase.Parameters.DisplayInfo} ({r.BenchmarkCase.Job.Id})")];

    private static bool IsSlabGen(string name) =>
        name.Contains("SlabCache", StringComparison.Ordinal) || name.Contains("KmemCache", StringComparison.Ordinal)
        || name.Contains("Kmalloc", StringComparison.Ordinal) || name.Contains("AllocPages", StringComparison.Ordinal);

    /// <summary>The mean time per operation of each process (launch) of a case, in launch order.</summary>
    private static double[] PerLaunchMeans(BenchmarkReport report) =>
        [.. report.AllMeasurements
            .Where(static m => m.IterationMode == IterationMode.Workload && m.IterationStage == IterationStage.Result)
            .GroupBy(static m => m.LaunchIndex)
            .OrderBy(static g => g.Key)
            .Select(static g => g.Average(static m => m.Nanoseconds / m.Operations))];

    /// <summary>Prints each goal with its measured ratio, then the 0 B goal; returns how many were missed.</summary>
    public static int Print(IReadOnlyList<GoalResult> results, IReadOnlyList<string> allocating, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine("| goal | job, parameters | measured | target | peer | result |");
        output.WriteLine("|---|---|---:|---:|---:|---|");
        foreach (GoalResult r in results)
        {
            if (!r.Measured)
            {
                output.WriteLine($"| {r.Target} {Describe(r.Factor)} {r.Peer} | {r.Group} | nothing: no such pair of cases ran | | | MISSED |");
                continue;
            }

            string over = r.MedianSpeedUp is null ? "" : $" (median of {r.Processes} processes)";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Target} {Describe(r.Factor)} {r.Peer} | {r.Group} | {Measured(r.SpeedUp, r.Factor)}{over} | {r.TargetNs:F1} ns | {r.PeerNs:F1} ns | {(r.Met ? "met" : "MISSED")} |"));
        }

        output.WriteLine(allocating.Count == 0
            ? "| every SlabGen case allocates 0 B of managed memory | | 0 B | | | met |"
            : $"| every SlabGen case allocates 0 B of managed memory | | allocating: {string.Join("; ", allocating)} | | | MISSED |");
        return results.Count(static r => !r.Met) + (allocating.Count == 0 ? 0 : 1);
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

/// <summary>A goal: Target at least Factor × faster than Peer, in Job and Params when set, per process when PerProcess.</summary>
internal sealed record Goal(string Class, string Target, string Peer, double Factor, string? Job = null, string? Params = null, bool PerProcess = false);

/// <summary>One goal measured in one job and parameter set: the two cases' mean times and whether the ratio holds.</summary>
internal sealed record GoalResult(string Target, string Peer, double Factor, string Group, double TargetNs, double PeerNs)
{
    /// <summary>The median over processes of the peer's time over the target's, for per-process goals.</summary>
    public double? MedianSpeedUp { get; init; }

    /// <summary>How many processes a per-process goal was judged over.</summary>
    public int Processes { get; init; } = 1;

    /// <summary>The peer's time over the target's: of the means, or the median of the per-process ratios.</summary>
    public double SpeedUp => MedianSpeedUp ?? PeerNs / TargetNs;

    /// <summary>A per-process goal: the means over all processes, and the median of the ratios of launch i to launch i.</summary>
    public static GoalResult PerProcess(Goal goal, string group, double[] target, double[] peer)
    {
        double[] ratios = [.. target.Zip(peer, static (t, p) => p / t).Order()];
        return new GoalResult(goal.Target, goal.Peer, goal.Factor, group, target.Average(), peer.Average())
        {
            MedianSpeedUp = ratios.Length == 0 ? double.NaN : ratios.Length % 2 == 1 ? ratios[ratios.Length / 2] : (ratios[(ratios.Length / 2) - 1] + ratios[ratios.Length / 2]) / 2,
            Processes = ratios.Length,
        };
    }

    /// <summary>How far the measured ratio is from the goal: 1 is exactly the goal, more is better.</summary>
    public double OfGoal => SpeedUp / Factor;

    /// <summary>Whether both cases ran; a goal that measured nothing is missed.</summary>
    public bool Measured => !double.IsNaN(TargetNs) && !double.IsNaN(PeerNs);

    /// <summary>Whether the goal holds.</summary>
    public bool Met => Measured && SpeedUp >= Factor;
}
