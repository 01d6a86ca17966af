// The benchmark suite. `--quick` runs every case with a few short iterations (for smoke runs and CI); without it,
// BenchmarkDotNet's full measurement. `--glibc-only` skips the native peers' jobs (NativePeers.cs), for A/B runs;
// `--peers mimalloc,tcmalloc` keeps only those. `--charts <dir>` says where the SVG charts go (Charts.cs): by default
// docs/benchmarks/ of the repository after a full run (the README shows them), the results folder after a quick one. Both run out of process, so both measure the code the
// runtime's tiered JIT produces by default (an in-process run measured code still in its first tier). Any other arguments go to
// BenchmarkDotNet (for example --filter *Page*, or --disasm for the JIT's code of each case). After the run come the
// goals table with the measured ratios, the thread cases as pairs per second with their scaling, and the memory
// goals (MemoryGoals.cs, counted in-process); a full run exits non-zero when a goal is missed.
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;
using Perfolizer.Horology;
using SlabGen.Benchmarks;

bool quick = args.Contains("--quick");
NativePeers.Enabled = !args.Contains("--glibc-only");
int peersAt = Array.IndexOf(args, "--peers");
if (peersAt >= 0 && peersAt + 1 < args.Length)
{
    NativePeers.Only = args[peersAt + 1].Split(',');
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
    : Job.Default.WithId("glibc");
IConfig config = DefaultConfig.Instance.AddJob(NativePeers.BaseJob);
Console.WriteLine(NativePeers.Describe());

IEnumerable<Summary> summaries = BenchmarkSwitcher.FromAssembly(typeof(PageBenchmarks).Assembly).Run(rest, config);
IReadOnlyList<GoalResult> goals = Goals.Evaluate(summaries);
int missed = Goals.Print(goals, Console.Out);
foreach (string chart in Charts.Write(goals, summaries, chartsAt >= 0 && chartsAt + 1 < args.Length ? args[chartsAt + 1] : Charts.DefaultDirectory(quick)))
{
    Console.WriteLine("chart: " + chart);
}

Throughput.Print(summaries, Console.Out);
missed += MemoryGoals.Check(Console.Out);
Console.WriteLine(quick
    ? $"Quick mode: {missed} goal(s) below target; quick figures are indicative only, the full run decides."
    : $"{missed} goal(s) missed.");
return quick ? 0 : Math.Min(missed, 1);
