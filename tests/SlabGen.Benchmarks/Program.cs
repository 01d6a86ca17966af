// The benchmark suite. `--quick` runs every case with a few short iterations (for smoke runs and CI); without it,
// the full measurement (15 iterations of 250 ms after 6 warmups, per case and job). `--glibc-only` skips the native peers' jobs (NativePeers.cs), for A/B runs;
// `--peers mimalloc,tcmalloc` keeps only those. `--charts <dir>` says where the SVG charts go (Charts.cs): by default
// docs/benchmarks/ of the repository after a full run (the README shows them), the results folder after a quick one. Both run out of process, so both measure the code the
// runtime's tiered JIT produces by default (an in-process run measured code still in its first tier). Any other arguments go to
// BenchmarkDotNet (for example --filter *Page*, or --disasm for the JIT's code of each case). After the run come the
// goals table with the measured ratios, the thread cases as pairs per second with their scaling, and the memory
// goals (MemoryGoals.cs, counted in-process) and the memory comparison with the peers (MemoryPeers.cs, a child
// process per workload and allocator); a full run exits non-zero when a goal is missed. `--memory-child` is that child.
// `--precise` runs the precise A/B mode instead (Precise/PreciseRunner.cs: thread CPU time, interleaved rounds, ratios per
// round; `--against <other build's SlabGen.Benchmarks.dll>` compares two builds), and `--precise-child` is its child.
// `--analyzers` measures what SlabGen's analyzers cost a build instead (Analyzers/AnalyzerCost.cs: CPU time, cold and warm),
// `--generator` what the [SlabCache] generator costs (Analyzers/GeneratorCost.cs: CPU time, warm).
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Filters;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;
using SlabGen.Benchmarks;
using SlabGen.Benchmarks.Precise;

if (args.Length == 3 && args[0] == MemoryPeers.ChildSwitch)
{
    return MemoryPeers.Child(args[1], args[2]);
}

if (args.Length is 2 or 3 && args[0] == PreciseChild.Switch)
{
    return PreciseChild.Run(double.Parse(args[1], System.Globalization.CultureInfo.InvariantCulture), args.Length == 3 ? args[2] : null);
}

if (args.Contains(SlabGen.Benchmarks.Analyzers.GeneratorCost.Switch))
{
    return SlabGen.Benchmarks.Analyzers.GeneratorCost.Run(args);
}

if (args.Contains(SlabGen.Benchmarks.Analyzers.AnalyzerCost.Switch))
{
    return SlabGen.Benchmarks.Analyzers.AnalyzerCost.Run(args);
}

bool quick = args.Contains("--quick");
NativePeers.Enabled = !args.Contains("--glibc-only");
int peersAt = Array.IndexOf(args, "--peers");
if (peersAt >= 0 && peersAt + 1 < args.Length)
{
    NativePeers.Only = args[peersAt + 1].Split(',');
}

if (args.Contains("--precise"))
{
    return PreciseRunner.Run(args);
}

int chartsAt = Array.IndexOf(args, "--charts");
string[] rest = args.Where((a, i) => a is not "--quick" and not "--glibc-only" and not "--peers" and not "--charts"
    && (peersAt < 0 || i != peersAt + 1) && (chartsAt < 0 || i != chartsAt + 1)).ToArray();
if (!rest.Contains("--filter"))
{
    rest = [.. rest, "--filter", "*"];
}

NativePeers.BaseJob = quick
    ? Job.Default
        .WithLaunchCount(1)
        .WithWarmupCount(6) // 600 ms: the tiered JIT has promoted the hot code to tier 1 before measuring starts
        .WithIterationCount(3)
        .WithIterationTime(TimeInterval.FromMilliseconds(100))
        .WithId("glibc")
    : Job.Default
        .WithLaunchCount(1)
        .WithWarmupCount(6)
        .WithIterationCount(15)
        .WithIterationTime(TimeInterval.FromMilliseconds(250))
        .WithId("glibc"); // about 30 minutes for the whole suite on 2 cores with the three peers
Console.WriteLine(NativePeers.Describe());

// ObjectBenchmarks (the floor) runs in 3 processes, quick or not; every other class in the one process per job.
var switcher = BenchmarkSwitcher.FromAssembly(typeof(PageBenchmarks).Assembly);
Summary[] summaries =
[
    .. switcher.Run(rest, Config(NativePeers.BaseJob.WithLaunchCount(3), static c => c.Descriptor.Type == typeof(ObjectBenchmarks))),
    .. switcher.Run(rest, Config(NativePeers.BaseJob, static c => c.Descriptor.Type != typeof(ObjectBenchmarks))),
];
IReadOnlyList<GoalResult> goals = Goals.Evaluate(summaries);
int missed = Goals.Print(goals, Goals.Allocating(summaries), Console.Out);
foreach (string chart in Charts.Write(goals, summaries, chartsAt >= 0 && chartsAt + 1 < args.Length ? args[chartsAt + 1] : Charts.DefaultDirectory(quick)))
{
    Console.WriteLine("chart: " + chart);
}

Throughput.Print(summaries, Console.Out);
missed += MemoryGoals.Check(Console.Out);
missed += MemoryPeers.Check(Console.Out);
Console.WriteLine(quick
    ? $"Quick mode: {missed} goal(s) below target; quick figures are indicative only, the full run decides."
    : $"{missed} goal(s) missed.");
return quick ? 0 : Math.Min(missed, 1);

static IConfig Config(Job job, Func<BenchmarkCase, bool> keep) =>
    DefaultConfig.Instance.AddJob(job).AddFilter(new SimpleFilter(keep));
