// The bound: the analyzers over a compilation of 2,000 methods with deep call chains finish well under
// a second. What is measured is the analyzers' own execution time, as Roslyn's analyzer telemetry reports it,
// after a warm-up run that pays the JIT. The wall time of the whole analysis, mostly Roslyn binding the
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
    [Fact]
    public async Task Two_thousand_methods_in_deep_chains_analyse_in_under_a_second()
    {
        await Analyse(Source(methods: 100));
        CSharpCompilation compilation = Source(methods: 2_000);
        _ = compilation.GetDiagnostics();

        var stopwatch = Stopwatch.StartNew();
        (ImmutableArray<Diagnostic> diagnostics, TimeSpan analyzers) = await Analyse(compilation);
        stopwatch.Stop();

        output.WriteLine($"2,000 methods: analyzers {analyzers.TotalMilliseconds:F0} ms, whole analysis {stopwatch.Elapsed.TotalMilliseconds:F0} ms, {diagnostics.Length} diagnostics");
        Assert.Equal(20, diagnostics.Count(static d => d.Id == "SLAB104"));
        Assert.True(analyzers < TimeSpan.FromMilliseconds(500), $"the analyzers took {analyzers.TotalMilliseconds:F0} ms");
    }

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
