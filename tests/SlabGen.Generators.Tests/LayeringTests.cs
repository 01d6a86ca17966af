// The runtime's folders are layers, and knowledge flows one way: a folder's code may use its own folder's types and
// those of the folders below it, never one above. From the bottom:
//   src/Contract  the names shared with the generator and the analyzers (constants);
//   PerThread/    the per-thread blocks, slots and registries: they know no allocator;
//   Diagnostics/  the SlabGen meter and event source, which every layer records into (each layer publishes its own
//                 observable instruments: Pages/PageAllocatorMetrics.cs, Slab/CacheMetrics.cs, Kmem/KmemMetrics.cs);
//   the root and Context/, one layer: the flag policy (GfpFlags.cs) asks InterruptContext whether a caller may sleep;
//   Pages/        the buddy allocator, which knows the caches above it only as shrinkers (Pages/IShrinker.cs);
//   Slab/         the caches, and their sampled allocations (Slab/Sampling/: the pool serves the caches' slow paths);
//   Kmem/, Typed/ the kmalloc caches and the generated types' support, which do not know each other.
// (PerThread/ is below Pages/, not above it as first planned: Pages' per-thread page lists are built on it, and it
// uses nothing of any allocator.) The test compiles src/SlabGen from its sources with Roslyn and looks up every name
// each file uses.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace SlabGen.Generators.Tests;

public class LayeringTests
{
    /// <summary>Each folder's layer; folders of one layer may not use each other, except <see cref="OneLayer"/>.</summary>
    internal static readonly IReadOnlyDictionary<string, int> Layers = new Dictionary<string, int>
    {
        ["Contract"] = 0,
        ["PerThread"] = 0,
        ["Diagnostics"] = 1,
        [""] = 2,
        ["Context"] = 2,
        ["Pages"] = 3,
        ["Slab"] = 4,
        ["Kmem"] = 5,
        ["Typed"] = 5,
    };

    /// <summary>The folders of one layer that may use each other.</summary>
    private static readonly string[] OneLayer = ["", "Context"];

    private static readonly string[] ImplicitUsings =
        ["System", "System.Collections.Generic", "System.IO", "System.Linq", "System.Net.Http", "System.Threading", "System.Threading.Tasks"];

    [Fact]
    public void No_folder_of_the_runtime_uses_a_folder_above_it()
    {
        string source = Path.Combine(RepositoryRoot(), "src", "SlabGen");
        List<string> violations = UpwardReferences(source, null);
        Assert.True(violations.Count == 0, $"{violations.Count} uses of a layer above:\n{string.Join("\n", violations)}");
    }

    [Fact]
    public void A_deliberate_upward_reference_is_reported()
    {
        // The check itself: Pages/ naming KmemCache (the slab layer), as PageAllocator's cache list once did.
        string source = Path.Combine(RepositoryRoot(), "src", "SlabGen");
        const string Upward = "namespace SlabGen; internal static class UpwardProbe { internal static string? Name(KmemCache cache) => cache.Name; }";
        List<string> violations = UpwardReferences(source, ("Pages/UpwardProbe.cs", Upward));
        Assert.Contains(violations, static v => v.StartsWith("Pages/UpwardProbe.cs", StringComparison.Ordinal) && v.Contains("KmemCache (Slab)", StringComparison.Ordinal));
    }

    /// <summary>Every use, in a file of <paramref name="source"/>, of a type declared in a folder of a higher (or, across folders, the same) layer.</summary>
    private static List<string> UpwardReferences(string source, (string Path, string Text)? extra)
    {
        var files = Directory.GetFiles(source, "*.cs", SearchOption.AllDirectories)
            .Where(static f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal))
            .Select(f => (Path: Path.GetRelativePath(source, f).Replace('\\', '/'), Text: File.ReadAllText(f)))
            .ToList();
        if (extra is { } added)
        {
            files.Add(added);
        }

        // What the project adds to its own files: the contract shared with the generator and analyzers (src/Contract,
        // constants only, at the bottom) and the SDK's implicit usings.
        files.Add(("Contract/Contract.cs", File.ReadAllText(Path.Combine(source, "..", "Contract", "Contract.cs"))));
        files.Add(("GlobalUsings.cs", string.Concat(ImplicitUsings.Select(static u => $"global using global::{u};\n"))));

        var options = new CSharpParseOptions(LanguageVersion.Preview);
        SyntaxTree[] trees = [.. files.Select(f => CSharpSyntaxTree.ParseText(f.Text, options, f.Path))];
        CSharpCompilation compilation = CSharpCompilation.Create("SlabGen", trees, SlabGen.Tests.Shared.CompilationReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true));
        // CS8795: the [LibraryImport] partial methods, whose other half the interop generator writes.
        Diagnostic[] errors = [.. compilation.GetDiagnostics().Where(static d => d.Severity == DiagnosticSeverity.Error && d.Id != "CS8795")];
        Assert.True(errors.Length == 0, $"src/SlabGen does not compile on its own here:\n{string.Join("\n", errors.Take(10))}");

        var violations = new List<string>();
        foreach (SyntaxTree tree in trees)
        {
            string folder = Folder(tree.FilePath);
            int layer = Layers.TryGetValue(folder, out int l) ? l : throw new InvalidOperationException($"{tree.FilePath}: folder '{folder}' has no layer in LayeringTests.Layers");
            SemanticModel model = compilation.GetSemanticModel(tree);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (SimpleNameSyntax name in tree.GetRoot().DescendantNodes().OfType<SimpleNameSyntax>())
            {
                ISymbol? symbol = model.GetSymbolInfo(name).Symbol;
                INamedTypeSymbol? type = symbol as INamedTypeSymbol ?? symbol?.ContainingType;
                type = type?.OriginalDefinition;
                while (type?.ContainingType is { } outer)
                {
                    type = outer;
                }

                if (type is null || !type.Locations.Any(static l => l.IsInSource))
                {
                    continue;
                }

                // A partial type spread over folders belongs to the lowest of them (its declaring folder).
                string[] homes = [.. type.Locations.Where(static l => l.IsInSource).Select(l => Folder(l.SourceTree!.FilePath)).Distinct()];
                if (homes.Contains(folder))
                {
                    continue;
                }

                string home = homes.OrderBy(h => Layers[h]).First();
                bool allowed = Layers[home] < layer || (OneLayer.Contains(home) && OneLayer.Contains(folder));
                if (!allowed && seen.Add(type.Name))
                {
                    int line = name.GetLocation().GetLineSpan().StartLinePosition.Line + 1;
                    violations.Add($"{tree.FilePath}:{line} ({folder}) uses {type.Name} ({home})");
                }
            }
        }

        return violations;
    }

    private static string Folder(string relativePath) => relativePath.Contains('/', StringComparison.Ordinal) ? relativePath[..relativePath.IndexOf('/', StringComparison.Ordinal)] : "";

    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string self = "")
    {
        for (string? directory = Path.GetDirectoryName(self); directory is not null; directory = Path.GetDirectoryName(directory))
        {
            if (File.Exists(Path.Combine(directory, "SlabGen.sln")))
            {
                return directory;
            }
        }

        throw new InvalidOperationException($"no SlabGen.sln above {self}");
    }
}
