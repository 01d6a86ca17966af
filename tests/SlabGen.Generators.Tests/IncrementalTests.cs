// The pipeline caches: an edit that does not touch a [SlabCache] struct re-runs no SlabGen step, and no step
// output holds a symbol, a syntax node or a compilation (which would keep whole compilations alive and defeat
// the cache).
using System.Collections;
using System.Reflection;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace SlabGen.Generators.Tests;

public class IncrementalTests
{
    private const string Structs = """
        using SlabGen;
        namespace Game;
        [SlabCache(Name = "particle", Align = 64)]
        public partial struct Particle { public float X, Y; public Particle(float x, float y) { X = x; Y = y; } }
        [SlabCache(Checked = true)]
        public partial struct Entity { public int Id; }
        """;

    [Fact]
    public void An_unrelated_edit_leaves_every_step_cached_or_unchanged()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(Structs, "namespace Game; public class Other { public int A; }");
        GeneratorDriver driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation);

        SyntaxTree other = compilation.SyntaxTrees.Last();
        CSharpCompilation edited = compilation.ReplaceSyntaxTree(other,
            CSharpSyntaxTree.ParseText("namespace Game; public class Other { public int A; public int B; }", GeneratorHarness.ParseOptions, other.FilePath));
        GeneratorRunResult second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        foreach (string step in TrackingNames.All)
        {
            Assert.True(second.TrackedSteps.ContainsKey(step), $"step {step} did not run");
            foreach (IncrementalGeneratorRunStep run in second.TrackedSteps[step])
            {
                Assert.All(run.Outputs, output => Assert.True(
                    output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged,
                    $"{step}: {output.Reason}"));
            }
        }

        Assert.All(second.TrackedOutputSteps.SelectMany(static s => s.Value).SelectMany(static r => r.Outputs),
            output => Assert.Equal(IncrementalStepRunReason.Cached, output.Reason));
    }

    [Fact]
    public void Editing_a_struct_regenerates_only_that_struct()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(Structs);
        GeneratorDriver driver = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation);

        SyntaxTree tree = compilation.SyntaxTrees.Single();
        CSharpCompilation edited = compilation.ReplaceSyntaxTree(tree,
            CSharpSyntaxTree.ParseText(Structs.Replace("\"particle\"", "\"sparks\"", StringComparison.Ordinal), GeneratorHarness.ParseOptions, tree.FilePath));
        GeneratorRunResult second = driver.RunGenerators(edited).GetRunResult().Results.Single();

        var reasons = second.TrackedOutputSteps.SelectMany(static s => s.Value).SelectMany(static r => r.Outputs)
            .Select(static o => o.Reason).ToList();
        Assert.Equal(1, reasons.Count(static r => r == IncrementalStepRunReason.Modified));
        Assert.Equal(1, reasons.Count(static r => r == IncrementalStepRunReason.Cached));
        Assert.Contains("\"sparks\"", second.GeneratedSources.Single(static s => s.HintName.StartsWith("Game.Particle", StringComparison.Ordinal)).SourceText.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void No_step_output_holds_a_symbol_syntax_node_or_compilation()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation(Structs);
        GeneratorRunResult result = GeneratorHarness.Driver(trackSteps: true).RunGenerators(compilation).GetRunResult().Results.Single();

        foreach (string step in TrackingNames.All)
        {
            foreach (IncrementalGeneratorRunStep run in result.TrackedSteps[step])
            {
                foreach ((object value, _) in run.Outputs)
                {
                    AssertHoldsNoRoslynObjects(value, step, depth: 0);
                }
            }
        }
    }

    private static void AssertHoldsNoRoslynObjects(object? value, string path, int depth)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum || depth > 8)
        {
            return;
        }

        Assert.False(value is ISymbol or SyntaxNode or Compilation or SemanticModel,
            $"{path} holds a {value.GetType().Name}");
        if (value is IEnumerable items)
        {
            foreach (object? item in items)
            {
                AssertHoldsNoRoslynObjects(item, path + "[]", depth + 1);
            }

            return;
        }

        foreach (FieldInfo field in value.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
        {
            AssertHoldsNoRoslynObjects(field.GetValue(value), path + "." + field.Name, depth + 1);
        }
    }
}
