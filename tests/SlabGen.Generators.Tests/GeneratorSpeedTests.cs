// The bound on generator speed: a compilation with 1,000 [SlabCache] structs generates in under a
// second on the CI machine (2 cores). A generous bound on a single run, after a warm-up run that pays the JIT.
using System.Diagnostics;
using System.Text;
using Microsoft.CodeAnalysis;
using Xunit.Abstractions;

namespace SlabGen.Generators.Tests;

public class GeneratorSpeedTests(ITestOutputHelper output)
{
    [Fact]
    public void A_thousand_structs_generate_in_under_a_second()
    {
        GeneratorHarness.Run(GeneratorHarness.Compilation(Structs(10, "Warm")));
        var compilation = GeneratorHarness.Compilation(Structs(1000, "Big"));
        _ = compilation.GetDiagnostics();

        var stopwatch = Stopwatch.StartNew();
        GeneratorDriverRunResult result = GeneratorHarness.Driver().RunGenerators(compilation).GetRunResult();
        stopwatch.Stop();

        output.WriteLine($"1,000 [SlabCache] structs: {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
        Assert.Equal(1000, result.GeneratedTrees.Length);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(1), $"took {stopwatch.Elapsed.TotalMilliseconds:F0} ms");
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
