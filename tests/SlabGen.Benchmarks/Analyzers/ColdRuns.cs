// Cold runs: the SDK's own compiler (csc.dll, ReadyToRun, as `dotnet build` runs it), a fresh process per run, as a
// command-line build always is, so the analyzers' first-run costs (JIT, tables, first lookups) are all counted. Each
// run's CPU time is read from getrusage of the finished child. The compiler runs with -parallel- (concurrentBuild off):
// the same work with less of the thread pool's spinning and contention; with parallel compiles the difference between
// two setups moved by more than the analyzers cost (bepuphysics2, three rounds: 0.45–1.49 s). Three configurations: the compile alone, the compile
// with the baseline analyzer (NullAnalyzer.cs), and the compile with the baseline and SlabGen's analyzers.
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;

namespace SlabGen.Benchmarks.Analyzers;

/// <summary>What a run compiles with.</summary>
internal enum Setup
{
    Compile,
    Baseline,
    SlabGen,
}

internal sealed partial class ColdRuns
{
    private readonly string _work;
    private readonly string _csc;
    private readonly string _nullAnalyzer;
    private readonly string _slabGenAnalyzers;
    private readonly string _config;

    /// <summary>Prepares <paramref name="work"/>: the baseline analyzer's image, and an analyzer config making SlabGen's <paramref name="errorRules"/> warnings, so every run emits (rules off by default stay off).</summary>
    /// <exception cref="FileNotFoundException">The SDK's csc.dll is not where the running SDK keeps it.</exception>
    public ColdRuns(string work, byte[] nullAnalyzer, IEnumerable<string> errorRules)
    {
        _work = work;
        _csc = FindCsc();
        _nullAnalyzer = Path.Combine(work, "NullOperationAnalyzer.dll");
        File.WriteAllBytes(_nullAnalyzer, nullAnalyzer);
        _slabGenAnalyzers = typeof(SlabGen.Analyzers.InterruptContextAnalyzer).Assembly.Location;
        _config = Path.Combine(work, "warnings.globalconfig");
        File.WriteAllLines(_config, ["is_global = true", .. errorRules.Select(static id => $"dotnet_diagnostic.{id}.severity = warning")]);
    }

    /// <summary>The compiler's path, for the report.</summary>
    public string Compiler => _csc;

    /// <summary>Writes the sources of <paramref name="codebase"/> and builds each project once, so later projects have their references.</summary>
    public void Prepare(Codebase codebase)
    {
        foreach (Project project in codebase.Projects)
        {
            string directory = SourceDirectory(codebase, project);
            foreach ((string path, string text) in project.Files)
            {
                string full = Path.Combine(directory, path);
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(full, text);
            }

            (_, _, string output) = Compile(codebase, project, Setup.Compile, ReferencePath(codebase, project));
            if (!File.Exists(ReferencePath(codebase, project)))
            {
                throw new InvalidOperationException($"{codebase.Name}: {project.Name} does not compile:\n{output}");
            }
        }
    }

    /// <summary>CPU seconds of compiling every project of <paramref name="codebase"/> in <paramref name="setup"/>, and the SLAB diagnostics reported.</summary>
    public (double Seconds, int Findings, double Callbacks) Run(Codebase codebase, Setup setup)
    {
        double seconds = 0, callbacks = 0;
        int findings = 0;
        foreach (Project project in codebase.Projects)
        {
            (double s, int f, string text) = Compile(codebase, project, setup, Path.Combine(_work, "out", setup.ToString(), project.Name + ".dll"));
            seconds += s;
            findings += f;
            callbacks += setup == Setup.SlabGen ? ReportedSeconds(text, "SlabGen.Analyzers, Version=") : 0;
        }

        return (seconds, findings, callbacks);
    }

    /// <summary>
    /// The seconds csc's <c>-reportanalyzer</c> gives an analyzer assembly (its line of "Time (s)  %  Analyzer"): the time
    /// the compiler measured inside that assembly's callbacks.
    /// </summary>
    private static double ReportedSeconds(string output, string assembly)
    {
        foreach (string line in output.Split('\n'))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (line.Contains(assembly, StringComparison.Ordinal) && fields.Length >= 3
                && double.TryParse(fields[0].TrimStart('<'), NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds))
            {
                return seconds;
            }
        }

        throw new InvalidOperationException($"csc -reportanalyzer printed no line for {assembly}:\n{output[^Math.Min(output.Length, 2000)..]}");
    }

    /// <summary>The references of a project: the framework's reference assemblies, SlabGen, and the projects before it.</summary>
    public IEnumerable<string> References(Codebase codebase, Project project) =>
        [.. FrameworkReferences(), typeof(SlabCacheAttribute).Assembly.Location,
            .. codebase.Projects.TakeWhile(p => p != project).Select(p => ReferencePath(codebase, p))];

    private (double Seconds, int Findings, string Output) Compile(Codebase codebase, Project project, Setup setup, string output)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(output)!);
        string rsp = Path.Combine(_work, $"{Slug(codebase)}.{project.Name}.rsp");
        if (!File.Exists(rsp))
        {
            File.WriteAllLines(rsp,
            [
                "-nologo", "-nostdlib", "-parallel-", "-target:library", "-unsafe+", "-optimize+", "-deterministic", Codebase.CommandLineOptions,
                "-analyzerconfig:" + Quote(_config),
                .. References(codebase, project).Select(static r => "-r:" + Quote(r)),
                .. project.Files.Select(f => Quote(Path.Combine(SourceDirectory(codebase, project), f.Path))),
            ]);
        }

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string argument in (string[])["exec", _csc, "@" + rsp, "-out:" + output])
        {
            start.ArgumentList.Add(argument);
        }

        if (setup != Setup.Compile)
        {
            // Both setups with analyzers pay -reportanalyzer's timing of every callback alike.
            start.ArgumentList.Add("-analyzer:" + _nullAnalyzer);
            start.ArgumentList.Add("-reportanalyzer");
        }

        if (setup == Setup.SlabGen)
        {
            start.ArgumentList.Add("-analyzer:" + _slabGenAnalyzers);
        }

        double before = Cpu.OfChildren();
        using Process process = Process.Start(start)!;
        Task<string> error = process.StandardError.ReadToEndAsync();
        string text = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        double seconds = Cpu.OfChildren() - before;
        text += error.GetAwaiter().GetResult();
        if (process.ExitCode != 0 || text.Contains("warning CS8032", StringComparison.Ordinal) || text.Contains("warning CS8033", StringComparison.Ordinal)
            || text.Contains("AD0001", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{codebase.Name}: csc failed, or an analyzer did not load or threw, on {project.Name} ({setup}):\n{text}");
        }

        return (seconds, SlabDiagnostic().Count(text), text);
    }

    private string SourceDirectory(Codebase codebase, Project project) => Path.Combine(_work, "src", Slug(codebase), project.Name);

    private string ReferencePath(Codebase codebase, Project project) => Path.Combine(_work, "ref", Slug(codebase), project.Name + ".dll");

    private static string Slug(Codebase codebase) => new([.. codebase.Name.Where(char.IsLetterOrDigit)]);

    private static string Quote(string path) => "\"" + path + "\"";

    /// <summary>The running runtime's directory is dotnet/shared/Microsoft.NETCore.App/&lt;version&gt;; the SDK of the same major version is under dotnet/sdk.</summary>
    private static string FindCsc()
    {
        string root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        string major = Environment.Version.Major + ".";
        string? csc = Directory.Exists(Path.Combine(root, "sdk"))
            ? Directory.GetDirectories(Path.Combine(root, "sdk"))
                .Where(d => Path.GetFileName(d).StartsWith(major, StringComparison.Ordinal))
                .OrderByDescending(static d => Version.TryParse(Path.GetFileName(d).Split('-')[0], out Version? v) ? v : new Version())
                .Select(static d => Path.Combine(d, "Roslyn", "bincore", "csc.dll"))
                .FirstOrDefault(File.Exists)
            : null;
        return csc ?? throw new FileNotFoundException($"No SDK {major}x with Roslyn/bincore/csc.dll under {root}/sdk");
    }

    /// <summary>The framework's reference pack, as `dotnet build` compiles against: the newest one of the running major version.</summary>
    /// <exception cref="DirectoryNotFoundException">The SDK has no reference pack of this major version.</exception>
    private static IEnumerable<string> FrameworkReferences()
    {
        string root = Path.GetFullPath(Path.Combine(Path.GetDirectoryName(typeof(object).Assembly.Location)!, "..", "..", ".."));
        string packs = Path.Combine(root, "packs", "Microsoft.NETCore.App.Ref");
        string framework = $"net{Environment.Version.Major}.0";
        string? pack = Directory.Exists(packs)
            ? Directory.GetDirectories(packs)
                .Select(d => Path.Combine(d, "ref", framework))
                .Where(Directory.Exists)
                .OrderByDescending(static d => Version.TryParse(Path.GetFileName(Path.GetDirectoryName(Path.GetDirectoryName(d)))!.Split('-')[0], out Version? v) ? v : new Version())
                .FirstOrDefault()
            : null;
        return pack is null
            ? throw new DirectoryNotFoundException($"No reference pack for {framework} under {packs}")
            : Directory.GetFiles(pack, "*.dll").Order(StringComparer.Ordinal);
    }

    [GeneratedRegex(@"(warning|error) SLAB\d{3}")]
    private static partial Regex SlabDiagnostic();
}
