// Every struct shape C# 14 has, under [SlabCache]: the generator either serves it, and the result compiles with no
// warning at all (golden files too), or refuses it, and the analyzer gives exactly one SLAB0xx error while the
// compiler adds nothing of its own. A generator that breaks a build would fail the first kind; one that stays
// silent without saying why would fail the second.
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using SlabGen.Analyzers;

namespace SlabGen.Generators.Tests;

public class StructShapeTests
{
    public static TheoryData<string, string> Served => new()
    {
        { "record_struct", "[SlabCache] public partial record struct R(int A, long B);" },
        { "readonly_record_struct", "[SlabCache] public readonly partial record struct R(int A);" },
        { "readonly_struct", "[SlabCache] public readonly partial struct R { public readonly int X; public R(int x) => X = x; }" },
        { "primary_constructor", "[SlabCache] public partial struct P(int a, float b) { public int A = a; public float B = b; }" },
        { "fixed_buffer", "[SlabCache] public unsafe partial struct F { public fixed byte Data[16]; public int Length; }" },
        { "explicit_layout", "[SlabCache] [System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit)] public partial struct E { [System.Runtime.InteropServices.FieldOffset(0)] public int I; [System.Runtime.InteropServices.FieldOffset(0)] public float F; }" },
        { "nested_in_static_class", "public static partial class Outer { [SlabCache] public partial struct N { public int X; } }" },
        { "nested_in_readonly_struct", "public readonly partial struct Outer { [SlabCache] public partial struct N { public int X; } }" },
        { "nested_private_in_record", "public partial record Outer { [SlabCache] private partial struct N { public int X { get; set; } } }" },
        { "obsolete_constructors", """
            [SlabCache] public partial struct O
            {
                public int X;
                [System.Obsolete("use O(long)")] public O(int x) => X = x;
                [System.Obsolete("gone", true)] public O(short x) => X = x;
                [System.Obsolete("old", DiagnosticId = "GAME001")] public O(byte x) => X = x;
                public O(long x) => X = (int)x;
            }
            """ },
        { "pointer_constructors", """
            [SlabCache] public unsafe partial struct Constraint
            {
                public int* Batch;
                public int Index;
                public delegate*<int, void> Callback;
                public Constraint(int* batch, int index) { Batch = batch; Index = index; Callback = null; }
                public Constraint(delegate*<int, void> callback, int*[] batches) { Batch = batches[0]; Index = 0; Callback = callback; }
            }
            """ },
        { "nullable_oblivious_defaults", """
            #nullable disable
            public interface IThreadDispatcher { }
            [SlabCache] public partial struct Simulation
            {
                public int Workers;
                public Simulation(IThreadDispatcher dispatcher = null, string name = null, System.Collections.Generic.List<string> tags = null) => Workers = dispatcher == null ? 1 : 2;
            }
            #nullable restore
            """ },
        { "members_with_names_near_the_generated_ones", "[SlabCache] public partial struct M { public int Allocated; public static void Freeze() { } public int Cached; }" },
        { "two_enumerators_in_different_types", """
            public partial class ListA { [SlabCache] public partial struct Enumerator { public int I; } }
            public partial class ListB { [SlabCache] public partial struct Enumerator { public int I; } }
            """ },
    };

    public static TheoryData<string, string, string> Refused => new()
    {
        { "a_member_named_Cache", "[SlabCache] public partial struct S { public int X; public static int Cache; }", "SLAB012" },
        { "a_method_named_Free", "[SlabCache] public partial struct S { public int X; public void Free(int unrelated) { } }", "SLAB012" },
        { "a_nested_type_named_New", "[SlabCache] public partial struct S { public int X; public class New { } }", "SLAB012" },
        { "a_positional_member_named_Alloc", "[SlabCache] public partial record struct S(int Alloc);", "SLAB012" },
        { "a_required_field", "[SlabCache] public partial struct S { public required int X; }", "SLAB013" },
        { "a_required_property", "[SlabCache] public partial struct S { public required int X { get; init; } }", "SLAB013" },
        { "a_file_struct", "[SlabCache] file partial struct S { public int X { get; set; } }", "SLAB014" },
        { "in_a_file_class", "file partial class Outer { [SlabCache] public partial struct S { public int X { get; set; } } }", "SLAB014" },
        { "a_ref_struct", "[SlabCache] public ref partial struct S { public int X; }", "SLAB011" },
        { "nested_in_a_generic_type", "public partial class Outer<T> { [SlabCache] public partial struct S { public int X; } }", "SLAB003" },
        { "nested_in_a_class_that_is_not_partial", "public class Outer { [SlabCache] public partial struct S { public int X; } }", "SLAB001" },
    };

    [Theory]
    [MemberData(nameof(Served))]
    public async Task A_served_shape_compiles_with_no_warning(string shape, string declaration)
    {
        (GeneratorDriverRunResult result, Compilation output) = GeneratorHarness.Run(Compilation(declaration));

        Assert.NotEmpty(result.GeneratedTrees);
        foreach (GeneratedSourceResult generated in result.Results.Single().GeneratedSources)
        {
            Baselines.Match("Shape_" + shape, generated.HintName, generated.SourceText.ToString());
        }

        Assert.Empty(await Problems(output));
    }

    [Theory]
    [MemberData(nameof(Refused))]
    public async Task A_refused_shape_gets_no_code_and_exactly_one_error_saying_why(string shape, string declaration, string id)
    {
        (GeneratorDriverRunResult result, Compilation output) = GeneratorHarness.Run(Compilation(declaration));

        Assert.True(result.GeneratedTrees.IsEmpty, $"{shape}: generated {result.GeneratedTrees.Length} file(s)");
        Assert.Equal(id, Assert.Single(await Problems(output)).Id);
    }

    [Fact]
    public async Task Under_a_CLS_compliant_assembly_a_public_struct_gets_marked_members_and_an_internal_one_none()
    {
        (GeneratorDriverRunResult result, Compilation output) = GeneratorHarness.Run(Compilation("""
            [assembly: System.CLSCompliant(true)]
            namespace Game;
            [SlabCache] public partial struct Visible { public int X; public Visible(int x) => X = x; }
            [SlabCache] internal partial struct Hidden { public int X { get; set; } }
            """));

        foreach (GeneratedSourceResult generated in result.Results.Single().GeneratedSources)
        {
            Baselines.Match("Shape_cls_compliant_assembly", generated.HintName, generated.SourceText.ToString());
        }

        Assert.Empty(await Problems(output));
        string Source(string type) => result.Results.Single().GeneratedSources
            .Single(s => s.HintName == $"Game.{type}.SlabCache.g.cs").SourceText.ToString();
        static int Count(string text, string what) => text.Split(what).Length - 1;
        const string Mark = "[global::System.CLSCompliant(false)]";
        // Cache, ThisThread, Alloc, TryAlloc, New and TryNew twice each, Free (and the private thread-cache class's field).
        Assert.Equal(9 + 1, Count(Source("Visible"), "public static "));
        Assert.Equal(9, Count(Source("Visible"), Mark));
        Assert.Equal(0, Count(Source("Hidden"), Mark)); // on a member nobody outside sees, the mark is warning CS3019
    }

    [Fact]
    public async Task Calling_the_New_of_an_obsolete_constructor_warns_or_fails_as_calling_the_constructor_does()
    {
        (_, Compilation output) = GeneratorHarness.Run(Compilation("""
            [SlabCache] public partial struct O
            {
                public int X;
                [System.Obsolete("use O(long)")] public O(int x) => X = x;
                [System.Obsolete("gone", true)] public O(short x) => X = x;
                public O(long x) => X = (int)x;
            }
            public static class User
            {
                public static void Spawn()
                {
                    O.Free(O.New(1));
                    O.Free(O.New((short)1));
                    O.Free(O.New(1L));
                }
            }
            """));

        Assert.Equal(
            ["CS0618: 'O.New(int, GfpFlags)' is obsolete: 'use O(long)'", "CS0619: 'O.New(short, GfpFlags)' is obsolete: 'gone'"],
            (await Problems(output)).Select(static d => $"{d.Id}: {d.GetMessage(System.Globalization.CultureInfo.InvariantCulture)}"));
    }

    [Fact]
    public async Task SlabCache_on_two_parts_of_one_struct_leaves_the_compiler_error_alone_and_every_other_struct_served()
    {
        CSharpCompilation compilation = Compilation(
            "[SlabCache] public partial struct Twice { public int X; }",
            "[SlabCache] public partial struct Twice { }",
            "[SlabCache] public partial struct Other { public int X; }");

        (GeneratorDriverRunResult result, Compilation output) = GeneratorHarness.Run(compilation);

        Assert.Equal("Other.SlabCache.g.cs", Assert.Single(result.Results.Single().GeneratedSources).HintName);
        Assert.Equal("CS0579", Assert.Single(await Problems(output)).Id);
    }

    private static CSharpCompilation Compilation(params string[] declarations) => GeneratorHarness.Compilation(
        declarations.Select(static d => "using SlabGen;\n" + d).ToArray())
        .WithOptions(new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));

    /// <summary>The compiler's and the [SlabCache] analyzer's warnings and errors over the generated compilation.</summary>
    private static async Task<ImmutableArray<Diagnostic>> Problems(Compilation output)
    {
        ImmutableArray<Diagnostic> all = await output
            .WithAnalyzers([new SlabCacheAnalyzer()])
            .GetAllDiagnosticsAsync();
        return [.. all.Where(static d => d.Severity >= DiagnosticSeverity.Warning)];
    }
}
