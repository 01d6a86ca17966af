// The precise mode's tables: times per process, ratios taken within each round (against NativeMemory under each
// allocator, against the thread-local floor, checks on against off, this build against another), each as the median
// of the rounds with the quartiles, and the hot-path goals judged on those medians.
using System.Globalization;

namespace SlabGen.Benchmarks.Precise;

internal sealed class PreciseReport(Dictionary<string, Dictionary<string, List<double>>> results, string[] cases, TextWriter output)
{
    private static readonly string[] Allocators = ["glibc", "mimalloc", "jemalloc", "tcmalloc"];

    /// <summary>SlabGen's case and the peer case it is compared with in the same process.</summary>
    private static readonly (string Slab, string Peer)[] PeerPairs =
    [
        ("typed loop", "native64 loop"),
        ("typed call", "native64 call"),
        ("typed ThisThread loop", "native64 loop"),
        ("kmemcache loop", "native64 loop"),
        ("kmemcache call", "native64 call"),
        ("kmemcache ThisThread loop", "native64 loop"),
        ("kmalloc64 loop", "native64 loop"),
        ("kmalloc64 call", "native64 call"),
        ("kmalloc64 ThisThread loop", "native64 loop"),
        ("typed batch", "native64 batch"),
        ("typed ThisThread batch", "native64 batch"),
        ("kmemcache batch", "native64 batch"),
        ("kmemcache ThisThread batch", "native64 batch"),
        ("kmalloc64 batch", "native64 batch"),
        ("kmalloc64 ThisThread batch", "native64 batch"),
        ("pages 4K", "aligned 4K"),
        ("pages 4M", "aligned 4M"),
    ];

    private static readonly (string Case, string Floor)[] FloorPairs =
    [
        ("typed loop", "floor loop"),
        ("typed call", "floor call"),
        ("typed ThisThread loop", "floor loop"),
        ("kmemcache loop", "floor loop"),
        ("kmemcache call", "floor call"),
        ("kmemcache ThisThread loop", "floor loop"),
        ("kmalloc64 loop", "floor loop"),
        ("kmalloc64 call", "floor call"),
        ("kmalloc64 ThisThread loop", "floor loop"),
    ];

    /// <summary>The process with sampled allocations on at the default rate (Sampling/ in the runtime), and that rate.</summary>
    public const string SamplingOn = "sampling on";

    public const string SamplingRate = "100ms";

    /// <summary>The `--symbols` process: symbols read after SlabGen loads, before the first case (PreciseChild.cs).</summary>
    public const string SymbolsRead = "symbols read";

    /// <summary>Every case that allocates through SlabGen's caches, which sampling may slow down.</summary>
    internal static readonly string[] SampledCases =
    [
        "typed loop", "typed call", "typed ThisThread loop", "kmemcache loop", "kmemcache call", "kmemcache ThisThread loop",
        "kmalloc64 loop", "kmalloc64 call", "kmalloc64 ThisThread loop", "typed batch", "typed ThisThread batch",
        "kmemcache batch", "kmemcache ThisThread batch", "kmalloc64 batch", "kmalloc64 ThisThread batch",
    ];

    private static readonly string[] CheckedPairs =
        ["typed loop", "typed call", "typed ThisThread loop", "kmemcache loop", "kmemcache call", "kmemcache ThisThread loop", "kmalloc64 loop", "kmalloc64 call", "kmalloc64 ThisThread loop"];

    /// <summary>ns per operation of every case in every process, median [quartiles]; n/a where a build lacks the case.</summary>
    public void PrintTimes()
    {
        string[] variants = [.. results.Keys];
        output.WriteLine();
        output.WriteLine("ns per operation (thread CPU time), median [Q1–Q3] of the rounds:");
        output.WriteLine();
        output.WriteLine("| case | " + string.Join(" | ", variants) + " |");
        output.WriteLine("|---|" + string.Concat(variants.Select(_ => "---:|")));
        foreach (string c in cases)
        {
            output.WriteLine($"| {c} | " + string.Join(" | ", variants.Select(v => Format(results[v].TryGetValue(c, out var times) ? Summary.Of(times) : null, "F2"))) + " |");
        }
    }

    /// <summary>The ratios within a round: against each allocator's NativeMemory, against the floor, checks on − off.</summary>
    public void PrintRatios()
    {
        string[] allocators = Allocators.Where(results.ContainsKey).ToArray();
        output.WriteLine();
        output.WriteLine("Times faster than the peer case in the same process (peer ns ÷ SlabGen ns per round), median [Q1–Q3]:");
        output.WriteLine();
        output.WriteLine("| SlabGen case | peer case | " + string.Join(" | ", allocators) + " |");
        output.WriteLine("|---|---|" + string.Concat(allocators.Select(_ => "---:|")));
        foreach ((string slab, string peer) in PeerPairs)
        {
            output.WriteLine($"| {slab} | {peer} | " + string.Join(" | ", allocators.Select(a => Format(Faster(a, slab, peer), "F2") + "×")) + " |");
        }

        output.WriteLine();
        output.WriteLine("Against the thread-local floor (SlabGen ns ÷ floor ns per round, glibc process), and what the free checks cost " +
            "(checks-on process ns − checks-off process ns, rounds paired):");
        output.WriteLine();
        output.WriteLine("| case | ÷ floor | checks cost ns |");
        output.WriteLine("|---|---:|---:|");
        foreach ((string c, string floor) in FloorPairs)
        {
            string cost = results.ContainsKey("checks off") ? Format(ChecksCost(c), "F2") : "n/a";
            output.WriteLine($"| {c} | {Format(Slower("glibc", c, floor), "F2")}× | {cost} |");
        }
    }

    /// <summary>Sampling on at the default rate against off, case by case (on ns ÷ off ns per round, both under glibc).</summary>
    public void PrintSampling()
    {
        if (!results.ContainsKey(SamplingOn))
        {
            return;
        }

        output.WriteLine();
        output.WriteLine($"Sampling on (SLABGEN_SAMPLE={SamplingRate}) ÷ off, rounds paired (both under glibc; quartiles straddling 1 are noise):");
        output.WriteLine();
        output.WriteLine("| case | on ÷ off |");
        output.WriteLine("|---|---:|");
        foreach (string c in SampledCases.Where(results["glibc"].ContainsKey))
        {
            output.WriteLine($"| {c} | {Format(SamplingCost(c), "F3")} |");
        }
    }

    /// <summary>The process that read symbols first (`--symbols`) against the plain one, case by case.</summary>
    public void PrintSymbolsRead()
    {
        if (!results.ContainsKey(SymbolsRead))
        {
            return;
        }

        output.WriteLine();
        output.WriteLine("Symbols read before the first case ÷ not (both under glibc, rounds paired): SlabGen's thread statics keep the inline storage?");
        output.WriteLine();
        output.WriteLine("| case | symbols read ÷ not |");
        output.WriteLine("|---|---:|");
        foreach (string c in SampledCases.Where(results["glibc"].ContainsKey))
        {
            output.WriteLine($"| {c} | {Format(Summary.Of(Paired(SymbolsRead, c, "glibc", c, (on, off) => on / off)), "F3")} |");
        }
    }

    /// <summary>This build against another, case by case (this ns ÷ base ns per round: below 1 is faster now).</summary>
    public void PrintAgainst(string baseVariant)
    {
        output.WriteLine();
        output.WriteLine($"This build ÷ {baseVariant} (both under glibc, rounds paired; below 1 is faster now; a ratio whose quartiles straddle 1 is noise):");
        output.WriteLine();
        output.WriteLine("| case | this ns | base ns | this ÷ base |");
        output.WriteLine("|---|---:|---:|---:|");
        foreach (string c in cases.Where(results[baseVariant].ContainsKey))
        {
            Summary ratio = Summary.Of(Paired("glibc", c, baseVariant, c, (a, b) => a / b));
            output.WriteLine($"| {c} | {Format(Summary.Of(results["glibc"][c]), "F2")} | {Format(Summary.Of(results[baseVariant][c]), "F2")} | {Format(ratio, "F3")} |");
        }
    }

    /// <summary>The goals of the hot-path work, judged on the medians; returns how many were missed.</summary>
    public int PrintGoals()
    {
        var goals = new List<(string Goal, double? Value, Func<double, bool> Met, string Shown)>();
        void Add(string goal, Summary? s, Func<double, bool> met, string unit) =>
            goals.Add((goal, s?.Median, met, s is null ? "not run" : Format(s.Value, "F2") + unit));

        Add("[SlabCache] pair ≤ 2.5× the floor, loop", Slower("glibc", "typed loop", "floor loop"), v => v <= 2.5, "×");
        Add("[SlabCache] pair ≤ 2.5× the floor, loop through T.ThisThread", Slower("glibc", "typed ThisThread loop", "floor loop"), v => v <= 2.5, "×");
        Add("[SlabCache] pair ≤ 1.5× the floor, call", Slower("glibc", "typed call", "floor call"), v => v <= 1.5, "×");
        foreach (string c in CheckedPairs)
        {
            Add($"free checks ≤ 1 ns a pair: {c}", results.ContainsKey("checks off") ? ChecksCost(c) : null, v => v <= 1, " ns");
        }

        foreach (string slab in (string[])["kmalloc64", "kmemcache"])
        {
            foreach (string style in (string[])["loop", "call"])
            {
                Add($"{slab} {style} ≥ 1.5× mimalloc", Faster("mimalloc", $"{slab} {style}", $"native64 {style}"), v => v >= 1.5, "×");
                foreach (string other in (string[])["jemalloc", "tcmalloc", "glibc"])
                {
                    Add($"{slab} {style} > 1× {other}", Faster(other, $"{slab} {style}", $"native64 {style}"), v => v > 1, "×");
                }
            }
        }

        foreach (string c in SampledCases.Where(results["glibc"].ContainsKey))
        {
            Add($"sampling on ({SamplingRate}) within 1% of off: {c}", results.ContainsKey(SamplingOn) ? SamplingCost(c) : null, v => v <= 1.01, "×");
        }

        Add("typed batch ≥ 2× mimalloc", Faster("mimalloc", "typed batch", "native64 batch"), v => v >= 2, "×");
        Add("typed batch through T.ThisThread ≥ 2× mimalloc", Faster("mimalloc", "typed ThisThread batch", "native64 batch"), v => v >= 2, "×");
        Add("kmalloc64 batch ≥ 1.2× mimalloc", Faster("mimalloc", "kmalloc64 batch", "native64 batch"), v => v >= 1.2, "×");
        Add("kmemcache batch ≥ 1.2× mimalloc", Faster("mimalloc", "kmemcache batch", "native64 batch"), v => v >= 1.2, "×");
        foreach (string peer in (string[])["mimalloc", "jemalloc", "tcmalloc"])
        {
            Add($"4 MiB pair ≥ 1× {peer}", Faster(peer, "pages 4M", "aligned 4M"), v => v >= 1, "×");
        }

        Add("4 KiB pair ≥ 1× tcmalloc", Faster("tcmalloc", "pages 4K", "aligned 4K"), v => v >= 1, "×");

        output.WriteLine();
        output.WriteLine("Goals (medians of the per-round ratios):");
        output.WriteLine();
        output.WriteLine("| goal | measured | |");
        output.WriteLine("|---|---:|---|");
        int missed = 0;
        foreach ((string goal, double? value, Func<double, bool> met, string shown) in goals)
        {
            bool ok = value is double v && met(v);
            missed += ok ? 0 : 1;
            output.WriteLine($"| {goal} | {shown} | {(value is null ? "MISSED (not run)" : ok ? "met" : "MISSED")} |");
        }

        output.WriteLine();
        output.WriteLine($"{missed} of {goals.Count} hot-path goals missed.");
        return missed;
    }

    private Summary? Faster(string variant, string slab, string peer) => Within(variant, slab, peer, (s, p) => p / s);

    private Summary? Slower(string variant, string slab, string floor) => Within(variant, slab, floor, (s, f) => s / f);

    /// <summary>Two cases of one process combined round by round; null when the process or a case did not run.</summary>
    private Summary? Within(string variant, string a, string b, Func<double, double, double> combine) =>
        results.TryGetValue(variant, out var times) && times.TryGetValue(a, out var first) && times.TryGetValue(b, out var second)
            ? Summary.Of(first.Zip(second, combine).ToList())
            : null;

    private Summary SamplingCost(string c) => Summary.Of(Paired(SamplingOn, c, "glibc", c, (on, off) => on / off));

    private Summary ChecksCost(string c) => Summary.Of(Paired("glibc", c, "checks off", c, (on, off) => on - off));

    private List<double> Paired(string a, string caseA, string b, string caseB, Func<double, double, double> combine) =>
        results[a][caseA].Zip(results[b][caseB], combine).ToList();

    private static string Format(Summary? s, string format) => s is not Summary v ? "n/a"
        : $"{v.Median.ToString(format, CultureInfo.InvariantCulture)} [{v.Q1.ToString(format, CultureInfo.InvariantCulture)}–{v.Q3.ToString(format, CultureInfo.InvariantCulture)}]";

    /// <summary>Median and quartiles (linear interpolation between order statistics).</summary>
    internal readonly record struct Summary(double Q1, double Median, double Q3)
    {
        public static Summary Of(IReadOnlyCollection<double> values)
        {
            double[] sorted = [.. values.Order()];
            return new Summary(Quantile(sorted, 0.25), Quantile(sorted, 0.5), Quantile(sorted, 0.75));
        }

        private static double Quantile(double[] sorted, double q)
        {
            if (sorted.Length == 0)
            {
                return double.NaN;
            }

            double at = q * (sorted.Length - 1);
            int low = (int)Math.Floor(at);
            int high = Math.Min(low + 1, sorted.Length - 1);
            return sorted[low] + ((sorted[high] - sorted[low]) * (at - low));
        }
    }
}
