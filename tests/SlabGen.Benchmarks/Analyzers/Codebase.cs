// What the analyzer cost is measured on: the generated project (tests/Shared/GeneratedProject.cs), or real code read
// from directories, one assembly per directory in the order given, with chosen methods marked [InterruptContext] as a
// user of SlabGen would mark their per-frame or per-buffer methods.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SlabGen.Tests.Shared;

namespace SlabGen.Benchmarks.Analyzers;

/// <summary>One assembly's sources.</summary>
internal sealed record Project(string Name, IReadOnlyList<(string Path, string Text)> Files);

/// <summary>Projects compiled in order, each referencing the ones before it.</summary>
internal sealed record Codebase(string Name, IReadOnlyList<Project> Projects, int Marked)
{
    /// <summary>Lines of source over all projects.</summary>
    public int Lines => Projects.Sum(static p => p.Files.Sum(static f => f.Text.Count(static c => c == '\n')));

    /// <summary>The generated project of <paramref name="classes"/> classes, each with one [InterruptContext] method.</summary>
    public static Codebase Generated(int classes) =>
        new($"generated ({classes:N0} classes)", [new Project("Generated", [.. GeneratedProject.Files(classes)])], classes);

    /// <summary>
    /// Real code: every .cs file under each directory (bin and obj left out) as one project, and every method named in
    /// <paramref name="marks"/> that has a body marked [InterruptContext].
    /// </summary>
    /// <exception cref="DirectoryNotFoundException">A directory does not exist.</exception>
    public static Codebase FromDirectories(string name, IEnumerable<string> directories, IReadOnlySet<string> marks)
    {
        int marked = 0;
        var projects = new List<Project>();
        foreach (string directory in directories)
        {
            if (!Directory.Exists(directory))
            {
                throw new DirectoryNotFoundException($"--source {name}: no directory {directory}");
            }

            var files = new List<(string, string)>();
            foreach (string path in Directory.EnumerateFiles(directory, "*.cs", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            {
                string relative = Path.GetRelativePath(directory, path);
                if (relative.Split(Path.DirectorySeparatorChar).Any(static part => part is "bin" or "obj"))
                {
                    continue;
                }

                (string text, int count) = Mark(File.ReadAllText(path), marks);
                marked += count;
                files.Add((relative, text));
            }

            projects.Add(new Project(Path.GetFileName(Path.TrimEndingDirectorySeparator(directory)), files));
        }

        return new Codebase(name, projects, marked);
    }

    private static (string Text, int Count) Mark(string text, IReadOnlySet<string> marks)
    {
        if (marks.Count == 0)
        {
            return (text, 0);
        }

        int[] at =
        [
            .. CSharpSyntaxTree.ParseText(text).GetRoot().DescendantNodes().OfType<MethodDeclarationSyntax>()
                .Where(m => marks.Contains(m.Identifier.ValueText) && (m.Body is not null || m.ExpressionBody is not null))
                .Select(static m => m.SpanStart)
                .OrderDescending(),
        ];
        foreach (int position in at)
        {
            text = text.Insert(position, "[global::SlabGen.InterruptContext] ");
        }

        return (text, at.Length);
    }

    /// <summary>The parse options every run uses: the latest language and the symbols a release build defines.</summary>
    public static CSharpParseOptions ParseOptions { get; } =
        new(LanguageVersion.Latest, preprocessorSymbols: ["TRACE", "RELEASE"]);

    /// <summary>The text of the options above for the compiler's command line.</summary>
    public const string CommandLineOptions = "-langversion:latest -define:TRACE;RELEASE";
}
