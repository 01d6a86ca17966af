// A regression guard, not the speed goal: the goal (1,000 [SlabCache] structs generate in under a second of CPU) is
// measured by the benchmark suite, `--generator` (tests/SlabGen.Benchmarks/Analyzers/GeneratorCost.cs: CPU time,
// rounds, median and quartiles; 0.14 s on the CI-sized machine). This test allows ten times the goal on one wall-clock
// run after a warm-up: enough for a loaded CI machine, far too little for a generator whose work grew with the square of
// the structs (a quadratic walk over 1,000 structs is a million steps per struct pass).
using System.Diagnostics;
using System.Text;
using Microsoft.CodeAnalysis;
using Xunit.Abstractions;

namespace SlabGen.Generators.Tests;

public class GeneratorSpeedTests(ITestOutputHelper output)
{
    [Fact]
    public void Regression_guard_a_thousand_structs_generate_in_seconds_not_minutes()
    {
        GeneratorHarness.Run(GeneratorHarness.Compilation(Structs(10, "Warm")));
        var compilation = GeneratorHarness.Compilation(Structs(1000, "Big"));
        _ = compilation.GetDiagnostics();

        var stopwatch = Stopwatch.StartNew();
        GeneratorDriverRunResult result = GeneratorHarness.Driver().RunGenerators(compilation).GetRunResult();
        stopwatch.Stop();

        output.WriteLine($"1,000 [SlabCache] structs: {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(1000, result.GeneratedTrees.Length);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(10), $"took {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
    }

    private static string Structs(int count, string prefix)
    {
        var source = new StringBuilder("using SlabGen;\nnamespace Many;\n");
        for (int i = 0; i < count; i++)
        {
            source.Append(System.Globalization.CultureInfo.InvariantCulture,
                $"[SlabCache(Align = {8 << (i % 4)})] public partial struct {prefix}{i} {{ public long A, B; public {prefix}{i}(long a, long b = {i}) {{ A = a; B = b; }} [SlabConstructor] static void Init(ref {prefix}{i} s) => s.A = {i}; }}\n");
        }

        return source.ToString();
    }
}
