// A realistic corpus (Corpus/*.cs.txt): a networking library with conditional debug logging, an ECS with callbacks
// and contracts, a game loop with graphics and audio wrappers. All four analyzers run over the three files
// together, and the diagnostics must be exactly those marked in them: every chain found, no false alarm.
using System.Collections.Immutable;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace SlabGen.Analyzers.Tests;

public class CorpusTests
{
    [Fact]
    public async Task The_corpus_gets_exactly_the_marked_diagnostics()
    {
        var test = new AllAnalyzersTest { ReferenceAssemblies = Verify.Net10 };
        foreach (string file in new[] { "Networking", "Ecs", "GameLoop" })
        {
            test.TestState.Sources.Add(($"{file}.cs", File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Corpus", file + ".cs.txt"))));
        }

        test.TestState.AdditionalReferences.AddRange(Verify.References);
        test.SolutionTransforms.Add((solution, projectId) => solution.WithProjectCompilationOptions(projectId,
            solution.GetProject(projectId)!.CompilationOptions!.WithOptions(allowUnsafe: true)));
        await test.RunAsync();
    }

    private sealed class AllAnalyzersTest : CSharpAnalyzerTest<InterruptContextAnalyzer, DefaultVerifier>
    {
        protected override IEnumerable<DiagnosticAnalyzer> GetDiagnosticAnalyzers() =>
            [new InterruptContextAnalyzer(), new SlabCacheAnalyzer()];
    }
}

internal static class CompilationOptionsExtensions
{
    public static Microsoft.CodeAnalysis.CompilationOptions WithOptions(this Microsoft.CodeAnalysis.CompilationOptions options, bool allowUnsafe) =>
        ((Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions)options).WithAllowUnsafe(allowUnsafe);
}
