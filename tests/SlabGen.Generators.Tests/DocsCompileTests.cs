// Every C# block of README.md and docs/*.md compiles as pasted into a `dotnet new console` project (its implicit
// usings, AllowUnsafeBlocks): as a program of its own (top-level statements first, types after, as C# requires), with the [SlabCache] generator run on it and the SlabGen analyzers
// reporting, against the framework and SlabGen. The one convention, visible in the Markdown source: a block right
// after the comment <!-- snippet: fragment --> is a fragment of a larger program (a line of an ASP.NET Core host, say)
// and is not compiled. A block right after a C# block and the comment <!-- output --> is what that program prints: the
// program is built and run in a child process and its output compared (DocsOutputTests.cs). The diagnostic pages (docs/diagnostics/) show code that fails on purpose and are not compiled.
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using SlabGen.Analyzers;

namespace SlabGen.Generators.Tests;

public partial class DocsCompileTests
{
    public static TheoryData<string, int> Blocks()
    {
        var data = new TheoryData<string, int>();
        foreach ((string file, int line, _, _) in AllBlocks())
        {
            data.Add(file, line);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Blocks))]
    public async Task Every_csharp_block_compiles_as_pasted(string file, int line)
    {
        string code = AllBlocks().Single(b => b.File == file && b.Line == line).Code;

        string[] errors = await Errors(code);

        Assert.True(errors.Length == 0, $"{file}:{line} does not compile as pasted:\n{string.Join("\n", errors)}\n---\n{code}");
    }

    [Fact]
    public async Task A_broken_example_is_caught()
    {
        Assert.NotEmpty(await Errors("using SlabGen;\nvoid* p = Kmem.Kmalloc(48);\n"));              // pointers outside unsafe
        Assert.NotEmpty(await Errors("using SlabGen;\n[SlabCache] public partial struct P { public int X; }\nP.Free(P.New());\n")); // CS8803
        Assert.NotEmpty(await Errors("using SlabGen;\nConnection c = default;\n"));                 // undefined
        Assert.Empty(await Errors("using SlabGen;\nSlabRef<P> p = P.New();\nP.Free(p);\n[SlabCache] public partial struct P { public int X; }\n"));
    }

    [Fact]
    public async Task Caches_are_created_without_an_unsafe_context_and_a_constructor_still_asks_for_one()
    {
        Assert.Empty(await Errors("""
            using SlabGen;
            using var plain = KmemCache.Create("plain", 64, 0);
            using var flagged = KmemCache.Create("flagged", 64, 16, SlabFlags.Poison);
            using var pages = new PageAllocator();
            using var typed = KmemCache<long>.Create("typed", pages: pages);
            Console.WriteLine(plain.ObjectSize + flagged.Align + typed.ObjectSize);
            """));
        string[] errors = await Errors("""
            using SlabGen;
            using var constructed = KmemCache.Create("constructed", 64, 0, SlabFlags.None, &Init, null);
            static unsafe void Init(void* obj) { }
            """);
        Assert.Contains(errors, static e => e.Contains("CS0214", StringComparison.Ordinal));   // pointers need unsafe
    }

    /// <summary>The errors of a block compiled as a program with the generator and the analyzers (CS5001 aside: a block of declarations only has no entry point).</summary>
    private static async Task<string[]> Errors(string code)
    {
        Compilation output = Compile(code);
        var analyzers = output.WithAnalyzers([new SlabCacheAnalyzer(), new InterruptContextAnalyzer()]);
        return [.. (await analyzers.GetAllDiagnosticsAsync())
            .Where(static d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS5001")
            .Select(static d => d.ToString())];
    }

    /// <summary>A block as the program <c>Program.cs</c> of a console project, the generator run on it.</summary>
    private static Compilation Compile(string code)
    {
        CSharpCompilation compilation = CSharpCompilation.Create("Doc",
            [CSharpSyntaxTree.ParseText(code, GeneratorHarness.ParseOptions, path: "Program.cs", encoding: System.Text.Encoding.UTF8),
                CSharpSyntaxTree.ParseText(ImplicitUsings, GeneratorHarness.ParseOptions, path: "Usings.cs", encoding: System.Text.Encoding.UTF8)],
            SlabGen.Tests.Shared.CompilationReferences.All,
            new CSharpCompilationOptions(OutputKind.ConsoleApplication, nullableContextOptions: NullableContextOptions.Enable, allowUnsafe: true));
        GeneratorHarness.Driver().RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        return output;
    }

    /// <summary>What <c>dotnet new console</c> (ImplicitUsings) gives every file: a pasted example may rely on it.</summary>
    private const string ImplicitUsings = """
        global using System;
        global using System.Collections.Generic;
        global using System.IO;
        global using System.Linq;
        global using System.Net.Http;
        global using System.Threading;
        global using System.Threading.Tasks;
        """;

    private static IEnumerable<(string File, int Line, string Code, string? Output)> AllBlocks()
    {
        string root = RepositoryRoot();
        IEnumerable<string> files = new[] { Path.Combine(root, "README.md") }
            .Concat(Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal));
        foreach (string path in files)
        {
            string text = File.ReadAllText(path).ReplaceLineEndings("\n");
            foreach (Match block in CodeBlock().Matches(text))
            {
                string before = text[..block.Index].TrimEnd('\n');
                if (before.EndsWith("<!-- snippet: fragment -->", StringComparison.Ordinal))
                {
                    continue;
                }

                Match output = OutputBlock().Match(text, block.Index + block.Length);
                yield return (Path.GetRelativePath(root, path).Replace('\\', '/'), text[..block.Index].Count(static c => c == '\n') + 1, block.Groups[1].Value,
                    output.Success ? output.Groups[1].Value : null);
            }
        }
    }

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string self = "")
    {
        for (string? directory = Path.GetDirectoryName(self); directory is not null; directory = Path.GetDirectoryName(directory))
        {
            if (File.Exists(Path.Combine(directory, "SlabGen.sln")))
            {
                return directory;
            }
        }

        throw new InvalidOperationException("SlabGen.sln not found above " + self);
    }

    [GeneratedRegex("```csharp\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex CodeBlock();

    /// <summary>Right after a C# block: the comment <c>&lt;!-- output --&gt;</c> and the block of what the program prints.</summary>
    [GeneratedRegex("\\G\n*<!-- output -->\n```[a-z]*\n(.*?)```", RegexOptions.Singleline)]
    private static partial Regex OutputBlock();
}
