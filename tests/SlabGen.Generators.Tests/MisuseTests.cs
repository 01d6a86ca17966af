// Misused [SlabCache] structs: the generator emits nothing for them (the analyzer explains), and so adds no
// error of its own to the user's.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace SlabGen.Generators.Tests;

public class MisuseTests
{
    public static TheoryData<string, string> Misuses => new()
    {
        { "a class", "[SlabCache] public partial class C { public int X; }" },
        { "not partial", "[SlabCache] public struct S { public int X; }" },
        { "a containing type not partial", "public class Outer { [SlabCache] public partial struct S { public int X; } }" },
        { "generic", "[SlabCache] public partial struct S<T> where T : unmanaged { public T X; }" },
        { "nested in a generic type", "public partial class Outer<T> { [SlabCache] public partial struct S { public int X; } }" },
        { "a reference field", "[SlabCache] public partial struct S { public string X; }" },
        { "a reference field in a nested struct", "public struct Inner { public object O; } [SlabCache] public partial struct S { public Inner I; }" },
        { "a ref struct", "[SlabCache] public ref partial struct S { public int X; }" },
        { "alignment not a power of two", "[SlabCache(Align = 48)] public partial struct S { public int X; }" },
        { "alignment above the page size", "[SlabCache(Align = 8192)] public partial struct S { public int X; }" },
        { "an empty name", "[SlabCache(Name = \"\")] public partial struct S { public int X; }" },
        { "a slab constructor that is not static", "[SlabCache] public partial struct S { public int X; [SlabConstructor] void Init(ref S s) { } }" },
        { "a slab constructor taking the struct by value", "[SlabCache] public partial struct S { public int X; [SlabConstructor] static void Init(S s) { } }" },
        { "a slab constructor of another type", "[SlabCache] public partial struct S { public int X; [SlabConstructor] static void Init(ref int s) { } }" },
        { "a slab constructor returning a value", "[SlabCache] public partial struct S { public int X; [SlabConstructor] static int Init(ref S s) => 0; }" },
        { "two slab constructors", "[SlabCache] public partial struct S { public int X; [SlabConstructor] static void A(ref S s) { } [SlabConstructor] static void B(ref S s) { } }" },
    };

    [Theory]
    [MemberData(nameof(Misuses))]
    public void A_misused_struct_gets_no_generated_code(string misuse, string declaration)
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation("using SlabGen;\n" + declaration);
        int errorsBefore = compilation.GetDiagnostics().Count(static d => d.Severity == DiagnosticSeverity.Error);

        (GeneratorDriverRunResult result, Compilation output) = GeneratorHarness.Run(compilation);

        Assert.True(result.GeneratedTrees.IsEmpty, $"{misuse}: generated {result.GeneratedTrees.Length} file(s)");
        Assert.Equal(errorsBefore, output.GetDiagnostics().Count(static d => d.Severity == DiagnosticSeverity.Error));
    }

    [Fact]
    public void A_well_formed_struct_beside_a_misused_one_still_gets_its_code()
    {
        CSharpCompilation compilation = GeneratorHarness.Compilation("""
            using SlabGen;
            [SlabCache] public struct NotPartial { public int X; }
            [SlabCache] public partial struct Fine { public int X; }
            """);

        (GeneratorDriverRunResult result, _) = GeneratorHarness.Run(compilation);

        Assert.Equal("Fine.SlabCache.g.cs", Assert.Single(result.Results.Single().GeneratedSources).HintName);
    }
}
