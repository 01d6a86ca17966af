// Warm runs: the same compilations in this process (the analyzers' own Roslyn version), after one run of each setup
// has paid the JIT, as an IDE or the compiler server runs analyzers again and again. Each run is a new compilation of
// the parsed files: the compile is its Emit; the runs with analyzers emit one and analyse another (the analysis binds
// the bodies anew, as the compiler's analyzer driver does), so each setup's extra time is what it adds to a build. On one
// thread, as the cold runs are.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace SlabGen.Benchmarks.Analyzers;

internal sealed class WarmRuns(ColdRuns cold, byte[] nullAnalyzer, Func<DiagnosticAnalyzer[]> slabGen)
{
    private readonly Dictionary<Project, (SyntaxTree[] Trees, MetadataReference[] References)> _inputs = [];

    /// <summary>Runs every setup twice, unmeasured: the tiered JIT has then compiled the code that runs again at its top tier.</summary>
    public void WarmUp(Codebase codebase)
    {
        for (int pass = 0; pass < 2; pass++)
        {
            foreach (Setup setup in Enum.GetValues<Setup>())
            {
                _ = Run(codebase, setup);
            }
        }
    }

    /// <summary>CPU seconds of <paramref name="setup"/> over every project of <paramref name="codebase"/>, and the SLAB diagnostics found.</summary>
    public (double Seconds, int Findings, double Callbacks) Run(Codebase codebase, Setup setup)
    {
        double seconds = 0, callbacks = 0;
        int findings = 0;
        foreach (Project project in codebase.Projects)
        {
            (SyntaxTree[] trees, MetadataReference[] references) = Inputs(codebase, project);
            CSharpCompilation compilation = CSharpCompilation.Create(project.Name, trees, references,
                new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, optimizationLevel: OptimizationLevel.Release, concurrentBuild: false));
            DiagnosticAnalyzer[] analyzers = setup switch
            {
                Setup.Baseline => [NullAnalyzer.Load(nullAnalyzer)],
                Setup.SlabGen => [NullAnalyzer.Load(nullAnalyzer), .. slabGen()],
                _ => [],
            };
            CSharpCompilation analysed = compilation.Clone();
            // Each run starts on a collected heap, so the garbage of the runs before is not collected, and counted,
            // in whichever run happens to fill the heap next.
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            double before = Cpu.OfSelf();
            _ = compilation.Emit(Stream.Null);
            CompilationWithAnalyzers? withAnalyzers = null;
            if (setup != Setup.Compile)
            {
                // Execution times logged for both setups with analyzers, so both pay the timing of every callback alike.
                withAnalyzers = analysed.WithAnalyzers([.. analyzers], new CompilationWithAnalyzersOptions(new AnalyzerOptions([]), onAnalyzerException: null, concurrentAnalysis: false, logAnalyzerExecutionTime: true));
                findings += withAnalyzers.GetAnalyzerDiagnosticsAsync().GetAwaiter().GetResult()
                    .Count(static d => d.Id.StartsWith("SLAB", StringComparison.Ordinal));
            }

            seconds += Cpu.OfSelf() - before;
            if (setup == Setup.SlabGen)
            {
                // What Roslyn measured inside SlabGen's callbacks (as csc -reportanalyzer prints it for cold runs).
                foreach (DiagnosticAnalyzer analyzer in analyzers.Skip(1))
                {
                    callbacks += withAnalyzers!.GetAnalyzerTelemetryInfoAsync(analyzer, CancellationToken.None).GetAwaiter().GetResult().ExecutionTime.TotalSeconds;
                }
            }
        }

        return (seconds, findings, callbacks);
    }

    private (SyntaxTree[], MetadataReference[]) Inputs(Codebase codebase, Project project)
    {
        if (!_inputs.TryGetValue(project, out var inputs))
        {
            inputs = (
                [.. project.Files.Select(static f => CSharpSyntaxTree.ParseText(f.Text, Codebase.ParseOptions, f.Path))],
                [.. cold.References(codebase, project).Select(static r => MetadataReference.CreateFromFile(r))]);
            _inputs[project] = inputs;
        }

        return inputs;
    }
}
