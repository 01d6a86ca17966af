// Regression guards, not the speed goals: the goal (the analyzers under a tenth of the compile, cold and warm) is
// measured by the benchmark suite, `--analyzers` (tests/SlabGen.Benchmarks/Analyzers/AnalyzerCost.cs, CPU time).
// These bounds are many times what a healthy build takes and catch a walk that grows faster than the code. What is
// measured is the analyzers' own execution time, as Roslyn's analyzer telemetry reports it, after a warm-up run that
// pays the JIT. The wall time of the whole analysis, mostly Roslyn binding the
// compilation and building operation trees (the same with an analyzer that does nothing), is printed beside it.
using System.Collections.Immutable;
using System.Diagnostics;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Xunit.Abstractions;

namespace SlabGen.Analyzers.Tests;

public class AnalyzerSpeedTests(ITestOutputHelper output)
{
    /// <summary>
    /// A regression guard, not the speed goal (that belongs to the benchmark suite, in thread CPU time): 2,000 methods in
    /// deep chains take 50–100 ms of analyzer time here, and a walk that turned quadratic would take far more than the
    /// 3 s allowed. The bound was 500 ms until a CI run, with the other test projects running beside it, measured 1.1 s.
    /// </summary>
    [Fact]
    public async Task Regression_guard_two_thousand_methods_in_deep_chains_analyse_in_seconds_not_minutes()
    {
        await Analyse(Source(methods: 100));
        CSharpCompilation compilation = Source(methods: 2_000);
        _ = compilation.GetDiagnostics();

        var stopwatch = Stopwatch.StartNew();
        (ImmutableArray<Diagnostic> diagnostics, TimeSpan analyzers) = await Analyse(compilation);
        stopwatch.Stop();

        output.WriteLine($"2,000 methods: analyzers {analyzers.TotalMilliseconds:F0} ms, whole analysis {stopwatch.Elapsed.TotalMilliseconds:F0} ms, {diagnostics.Length} diagnostics");
        Assert.Equal(20, diagnostics.Count(static d => d.Id == "SLAB104"));
        Assert.True(analyzers < TimeSpan.FromSeconds(3), $"the analyzers took {analyzers.TotalMilliseconds:F0} ms");
    }

    [Fact]
    public async Task Regression_guard_on_a_100000_line_project_the_analyzers_stay_under_half_the_compile()
    {
        CSharpCompilation warmup = Project(classes: 50);
        _ = warmup.Emit(Stream.Null);
        await Analyse(warmup);

        CSharpCompilation compilation = Project(classes: 2_650);
        int lines = compilation.SyntaxTrees.Sum(static t => t.GetText().Lines.Count);
        var compile = Stopwatch.StartNew();
        Assert.True(compilation.Emit(Stream.Null).Success);
        compile.Stop();
        // The least of three runs: a GC pause over a 100,000-line compilation lands in whichever callback runs.
        (ImmutableArray<Diagnostic> diagnostics, TimeSpan analyzers) = await Analyse(compilation);
        for (int run = 0; run < 2; run++)
        {
            (_, TimeSpan again) = await Analyse(compilation);
            analyzers = again < analyzers ? again : analyzers;
        }

        output.WriteLine($"{lines:N0} lines: compile {compile.Elapsed.TotalMilliseconds:F0} ms, analyzers {analyzers.TotalMilliseconds:F0} ms ({analyzers.TotalMilliseconds / compile.Elapsed.TotalMilliseconds:P1}), {diagnostics.Length} diagnostics");
        Assert.True(lines >= 100_000, $"{lines} lines");
        Assert.Equal(2_650, diagnostics.Count(static d => d.Id == "SLAB104"));
        Assert.Equal(2_650, diagnostics.Count(static d => d.Id == "SLAB107"));
        // A guard against walks that grow faster than the code (before the cheap filters of this analysis it was 30 %,
        // a quadratic walk is many times the compile), not the goal (a tenth, in the benchmark suite): on the shared 2-core
        // machine the same build measured 6 % to 24 % between runs (GC pauses over a 100,000-line compilation land in
        // whichever callback runs), so a bound near the goal fails on noise. Half holds for optimized and Debug builds.
        bool optimized = typeof(InterruptContextAnalyzer).Assembly.GetCustomAttributes(typeof(DebuggableAttribute), false)
            .Cast<DebuggableAttribute>().All(static d => !d.IsJITOptimizerDisabled);
        const double bound = 0.50;
        Assert.True(analyzers < compile.Elapsed * bound,
            $"the analyzers ({(optimized ? "optimized" : "unoptimized")}) took {analyzers.TotalMilliseconds:F0} ms of a {compile.Elapsed.TotalMilliseconds:F0} ms compile");
    }

    private static CSharpCompilation Project(int classes) =>
        CSharpCompilation.Create("Project",
            SlabGen.Tests.Shared.GeneratedProject.Files(classes).Select(static f => CSharpSyntaxTree.ParseText(f.Text, path: f.Path)),
            Verify.References, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));

    private static async Task<(ImmutableArray<Diagnostic>, TimeSpan)> Analyse(CSharpCompilation compilation)
    {
        DiagnosticAnalyzer[] analyzers = [new InterruptContextAnalyzer(), new SlabCacheAnalyzer()];
        CompilationWithAnalyzers run = compilation.WithAnalyzers([.. analyzers],
            new CompilationWithAnalyzersOptions(new AnalyzerOptions([]), onAnalyzerException: null, concurrentAnalysis: true, logAnalyzerExecutionTime: true));
        ImmutableArray<Diagnostic> diagnostics = await run.GetAnalyzerDiagnosticsAsync();
        TimeSpan time = TimeSpan.Zero;
        foreach (DiagnosticAnalyzer analyzer in analyzers)
        {
            time += (await run.GetAnalyzerTelemetryInfoAsync(analyzer, CancellationToken.None)).ExecutionTime;
        }

        return (diagnostics, time);
    }

    /// <summary>20 chains of methods/20 calls each; every chain ends in Vmalloc and starts at an interrupt method.</summary>
    private static CSharpCompilation Source(int methods)
    {
        int chains = 20;
        int depth = methods / chains;
        var source = new StringBuilder("using SlabGen;\npublic unsafe static class Chains\n{\n");
        for (int c = 0; c < chains; c++)
        {
            source.Append(System.Globalization.CultureInfo.InvariantCulture, $"    [InterruptContext] public static void Entry{c}() => M{c}_0();\n");
            for (int d = 0; d < depth; d++)
            {
                string next = d + 1 < depth ? $"M{c}_{d + 1}(); M{c}_{(d + 7) % depth}();" : "Kmem.Vfree(Kmem.Vmalloc(4096));";
                source.Append(System.Globalization.CultureInfo.InvariantCulture, $"    public static void M{c}_{d}() {{ if (System.Environment.TickCount == {d}) return; {next} }}\n");
            }
        }

        source.Append("}\n");
        return CSharpCompilation.Create("Chains", [CSharpSyntaxTree.ParseText(source.ToString())], Verify.References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
    }
}
