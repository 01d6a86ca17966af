// `--analyzers`: what SlabGen's analyzers cost a build, in CPU time, against the compile itself (the goal: under a
// tenth, cold and warm). Cold is a fresh SDK compiler process per run (ColdRuns.cs), warm is this process after a
// first run (WarmRuns.cs). SlabGen's own time is a run with the baseline analyzer and SlabGen's minus a run with the
// baseline alone (NullAnalyzer.cs: Roslyn building operation trees is not SlabGen's cost); the baseline's own cost over
// the bare compile is printed beside it. Setups are interleaved in rounds (each round in another order), the ratio is
// taken per round, and medians with quartiles are printed. Beside that difference, "SlabGen's callbacks" is the time
// Roslyn itself measured inside SlabGen's analyzers in the same runs (csc -reportanalyzer cold, the analyzer telemetry
// warm): free of the two processes' noise, but without what the callbacks cause elsewhere (JIT of the analyzers' code on
// the tiering thread, garbage collected later, the compiler formatting and printing their findings). The goal is judged
// on the CPU difference, which counts all of that.
//
// Codebases: the generated project (100,000 lines; 10,000 with --quick), and any real code given as
// `--source name=dir1,dir2` (one assembly per directory, in order) with `--mark Name1,Name2` naming the methods to mark
// [InterruptContext]. --rounds n sets the rounds (5; 1 cold and 2 warm with --quick); --only A,B keeps the analyzers whose
// type names are given (warm runs only: the compiler loads the whole assembly; to see which costs what); --no-generated leaves the generated project out;
// --work <dir> keeps the sources, response files and the baseline analyzer there (to run csc by hand or under a profiler).
// A full run exits 1 when a goal is missed.
using System.Globalization;
using Microsoft.CodeAnalysis.Diagnostics;
using SlabGen.Benchmarks.Precise;

namespace SlabGen.Benchmarks.Analyzers;

internal static class AnalyzerCost
{
    public const string Switch = "--analyzers";
    private const double Goal = 0.10;

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int rounds = Value(args, "--rounds") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : quick ? 1 : 5;
        HashSet<string> marks = [.. (Value(args, "--mark") ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries)];
        s_only = Value(args, "--only")?.Split(',');
        List<Codebase> codebases = args.Contains("--no-generated") ? [] : [Codebase.Generated(quick ? 265 : 2_650)];
        for (int i = 0; i < args.Length - 1; i++)
        {
            if (args[i] == "--source" && args[i + 1].Split('=', 2) is [var name, var directories])
            {
                codebases.Add(Codebase.FromDirectories(name, directories.Split(','), marks));
            }
        }

        string? kept = Value(args, "--work");
        string work = kept is null ? Directory.CreateTempSubdirectory("slabgen-analyzer-cost-").FullName : Directory.CreateDirectory(kept).FullName;
        try
        {
            byte[] baseline = NullAnalyzer.Image();
            var cold = new ColdRuns(work, baseline, SlabGenAnalyzers().SelectMany(static a => a.SupportedDiagnostics)
                .Where(static d => d.IsEnabledByDefault && d.DefaultSeverity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error).Select(static d => d.Id).Distinct());
            var warm = new WarmRuns(cold, baseline, SlabGenAnalyzers);
            Console.WriteLine($"Analyzer cost, CPU time (getrusage), {rounds} round(s); cold: {cold.Compiler}, a process per run; warm: Roslyn {typeof(Microsoft.CodeAnalysis.Compilation).Assembly.GetName().Version} in this process");
            Console.WriteLine();
            Console.WriteLine("| codebase | lines | marked | findings | run | compile s | operation trees s | SlabGen s | SlabGen ÷ compile | SlabGen's callbacks s | callbacks ÷ compile |");
            Console.WriteLine("|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|");
            bool met = true;
            foreach (Codebase codebase in codebases)
            {
                cold.Prepare(codebase);
                met &= Row(codebase, "cold", Measure(rounds, setup => cold.Run(codebase, setup)));
                warm.WarmUp(codebase);
                met &= Row(codebase, "warm", Measure(quick ? 2 : rounds, setup => warm.Run(codebase, setup)));
            }

            Console.WriteLine();
            Console.WriteLine(quick
                ? $"Goal: SlabGen's analyzers under {Goal:P0} of the compile, cold and warm: not judged (--quick: 10,000 lines, one cold round, a smoke run)."
                : $"Goal: SlabGen's analyzers under {Goal:P0} of the compile, cold and warm: {(met ? "met" : "missed")}.");
            return met || quick ? 0 : 1;
        }
        finally
        {
            if (kept is null)
            {
                Directory.Delete(work, recursive: true);
            }
        }
    }

    private static string[]? s_only;

    private static DiagnosticAnalyzer[] SlabGenAnalyzers() =>
    [
        .. typeof(SlabGen.Analyzers.InterruptContextAnalyzer).Assembly.GetTypes()
            .Where(static t => !t.IsAbstract && t.IsDefined(typeof(DiagnosticAnalyzerAttribute), false) && (s_only is null || s_only.Contains(t.Name)))
            .Select(static t => (DiagnosticAnalyzer)Activator.CreateInstance(t)!),
    ];

    /// <summary>
    /// Each round runs the three setups in a rotated order; returns every setup's CPU seconds per round, the findings of
    /// SlabGen's runs, and the seconds Roslyn measured inside SlabGen's callbacks in each of its runs.
    /// </summary>
    private static Measured Measure(int rounds, Func<Setup, (double Seconds, int Findings, double Callbacks)> run)
    {
        Setup[] setups = Enum.GetValues<Setup>();
        Dictionary<Setup, List<double>> seconds = setups.ToDictionary(static s => s, static _ => new List<double>());
        List<double> callbacks = [];
        int findings = 0;
        for (int round = 0; round < rounds; round++)
        {
            for (int i = 0; i < setups.Length; i++)
            {
                Setup setup = setups[(i + round) % setups.Length];
                (double s, int f, double c) = run(setup);
                seconds[setup].Add(s);
                if (setup == Setup.SlabGen)
                {
                    findings = f;
                    callbacks.Add(c);
                }
            }
        }

        return new Measured(seconds, findings, callbacks);
    }

    private sealed record Measured(Dictionary<Setup, List<double>> Seconds, int Findings, List<double> Callbacks);

    private static bool Row(Codebase codebase, string run, Measured measured)
    {
        List<double> compile = measured.Seconds[Setup.Compile];
        List<double> baseline = measured.Seconds[Setup.Baseline];
        List<double> slabGen = measured.Seconds[Setup.SlabGen];
        List<double> own = [.. slabGen.Zip(baseline, static (s, b) => s - b)];
        List<double> ratio = [.. own.Zip(compile, static (o, c) => o / c)];
        PreciseReport.Summary share = PreciseReport.Summary.Of(ratio);
        List<double> callbacksRatio = [.. measured.Callbacks.Zip(compile, static (o, c) => o / c)];
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {codebase.Name} | {codebase.Lines:N0} | {codebase.Marked:N0} | {measured.Findings:N0} | {run} | {Format(compile, "F2")} | {Format([.. baseline.Zip(compile, static (b, c) => b - c)], "F2")} | {Format(own, "F2")} | {Format(ratio, "P1")} | {Format(measured.Callbacks, "F2")} | {Format(callbacksRatio, "P1")} |"));
        return share.Median < Goal;
    }

    /// <summary>Median [quartiles] of <paramref name="values"/> (the median alone for one value); GeneratorCost prints with it too.</summary>
    internal static string Format(List<double> values, string format)
    {
        PreciseReport.Summary s = PreciseReport.Summary.Of(values);
        return values.Count == 1
            ? s.Median.ToString(format, CultureInfo.InvariantCulture)
            : string.Create(CultureInfo.InvariantCulture, $"{s.Median.ToString(format, CultureInfo.InvariantCulture)} [{s.Q1.ToString(format, CultureInfo.InvariantCulture)}–{s.Q3.ToString(format, CultureInfo.InvariantCulture)}]");
    }

    /// <summary>The argument after <paramref name="name"/>, or null.</summary>
    internal static string? Value(string[] args, string name) => Array.IndexOf(args, name) is int at and >= 0 && at + 1 < args.Length ? args[at + 1] : null;
}
