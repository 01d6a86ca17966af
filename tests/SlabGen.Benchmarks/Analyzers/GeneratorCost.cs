// `--generator`: what the [SlabCache] generator costs a build, in CPU time (getrusage, every thread). The goal, from the
// generator's issue: a compilation with 1,000 [SlabCache] structs generates in under a second. Measured warm, in this
// process after two unmeasured runs (as an IDE or the compiler server runs it again and again), on a new compilation
// each round: the generator's run (a new driver, so nothing is cached from the round before) beside the compile of its
// output (Emit), interleaved, the compile first in odd rounds. Sizes of 1,000 and 4,000 structs (5 rounds) (the same shape as the
// unit test's guard: alignment, a constructor with a default, a [SlabConstructor]); --quick runs 1,000 only, 2 rounds,
// and does not judge. The generator is loaded from its newest build output in this repository (generators/SlabGen.Generators/bin).
using System.Globalization;
using System.Reflection;
using System.Text;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using SlabGen.Benchmarks.Precise;

namespace SlabGen.Benchmarks.Analyzers;

internal static class GeneratorCost
{
    public const string Switch = "--generator";
    private const double GoalSeconds = 1.0;
    private const int GoalStructs = 1000;
    private static readonly string[] Configurations = ["Release", "Debug"];

    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int rounds = AnalyzerCost.Value(args, "--rounds") is { } r ? int.Parse(r, CultureInfo.InvariantCulture) : quick ? 2 : 5;
        int[] sizes = quick ? [GoalStructs] : [GoalStructs, 4 * GoalStructs];
        IIncrementalGenerator generator = LoadGenerator();
        var parse = new CSharpParseOptions(LanguageVersion.Latest);

        Console.WriteLine($"Generator cost, CPU time (getrusage), warm, {rounds} rounds; Roslyn {typeof(Compilation).Assembly.GetName().Version}");
        Console.WriteLine();
        Console.WriteLine("| structs | generated files | generator s | compile of the output s | generator ÷ compile |");
        Console.WriteLine("|---:|---:|---:|---:|---:|");
        bool met = true;
        foreach (int size in sizes)
        {
            SyntaxTree tree = CSharpSyntaxTree.ParseText(Structs(size), parse, "Structs.cs");
            for (int warm = 0; warm < 2; warm++)
            {
                _ = Round(generator, parse, tree, compileFirst: warm == 1);
            }

            var generate = new List<double>();
            var compile = new List<double>();
            int files = 0;
            for (int round = 0; round < rounds; round++)
            {
                (double g, double c, int f) = Round(generator, parse, tree, compileFirst: round % 2 == 1);
                generate.Add(g);
                compile.Add(c);
                files = f;
            }

            if (files != size)
            {
                throw new InvalidOperationException($"the generator wrote {files} files for {size} structs");
            }

            List<double> ratio = [.. generate.Zip(compile, static (g, c) => g / c)];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {size:N0} | {files:N0} | {AnalyzerCost.Format(generate, "F3")} | {AnalyzerCost.Format(compile, "F3")} | {AnalyzerCost.Format(ratio, "P0")} |"));
            if (size == GoalStructs)
            {
                met = PreciseReport.Summary.Of(generate).Median < GoalSeconds;
            }
        }

        Console.WriteLine();
        Console.WriteLine(quick
            ? $"Goal: {GoalStructs:N0} [SlabCache] structs generate in under {GoalSeconds:F0} s of CPU: not judged (--quick, a smoke run)."
            : $"Goal: {GoalStructs:N0} [SlabCache] structs generate in under {GoalSeconds:F0} s of CPU: {(met ? "met" : "missed")}.");
        return met || quick ? 0 : 1;
    }

    /// <summary>One round: the generator over a new compilation of <paramref name="tree"/>, and the compile of its output.</summary>
    private static (double Generate, double Compile, int Files) Round(IIncrementalGenerator generator, CSharpParseOptions parse, SyntaxTree tree, bool compileFirst)
    {
        CSharpCompilation input = CSharpCompilation.Create("Structs", [tree], SlabGen.Tests.Shared.CompilationReferences.All,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, allowUnsafe: true, nullableContextOptions: NullableContextOptions.Enable, concurrentBuild: false));
        // The output to compile comes from an unmeasured run, so the two measurements do not share work.
        GeneratorDriver unmeasured = CSharpGeneratorDriver.Create([generator.AsSourceGenerator()], parseOptions: parse);
        _ = unmeasured.RunGeneratorsAndUpdateCompilation(input.Clone(), out Compilation output, out _);

        double generate = 0, compile = 0;
        int files = 0;
        for (int step = 0; step < 2; step++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
            double before = Cpu.OfSelf();
            if ((step == 0) == compileFirst)
            {
                var result = output.Clone().Emit(Stream.Null);
                compile = Cpu.OfSelf() - before;
                if (!result.Success)
                {
                    throw new InvalidOperationException("the generated code does not compile: " + result.Diagnostics.First(static d => d.Severity == DiagnosticSeverity.Error));
                }
            }
            else
            {
                GeneratorDriver driver = CSharpGeneratorDriver.Create([generator.AsSourceGenerator()], parseOptions: parse);
                files = driver.RunGenerators(input.Clone()).GetRunResult().GeneratedTrees.Length;
                generate = Cpu.OfSelf() - before;
            }
        }

        return (generate, compile, files);
    }

    /// <summary>The structs of the unit test's guard (GeneratorSpeedTests), <paramref name="count"/> of them.</summary>
    private static string Structs(int count)
    {
        var source = new StringBuilder("using SlabGen;\nnamespace Many;\n");
        for (int i = 0; i < count; i++)
        {
            source.Append(CultureInfo.InvariantCulture,
                $"[SlabCache(Align = {8 << (i % 4)})] public partial struct Big{i} {{ public long A, B; public Big{i}(long a, long b = {i}) {{ A = a; B = b; }} [SlabConstructor] static void Init(ref Big{i} s) => s.A = {i}; }}\n");
        }

        return source.ToString();
    }

    private static IIncrementalGenerator LoadGenerator()
    {
        string? root = Path.GetDirectoryName(typeof(GeneratorCost).Assembly.Location);
        while (root is not null && !File.Exists(Path.Combine(root, "SlabGen.sln")))
        {
            root = Path.GetDirectoryName(root);
        }

        string[] candidates = root is null ? [] :
            [.. Configurations.Select(c => Path.Combine(root, "generators", "SlabGen.Generators", "bin", c, "netstandard2.0", "SlabGen.Generators.dll")).Where(File.Exists)];
        if (candidates.Length == 0)
        {
            throw new FileNotFoundException("SlabGen.Generators.dll not found: build generators/SlabGen.Generators (the benchmarks' build does) and run from this repository.");
        }

        Assembly assembly = Assembly.LoadFrom(candidates.OrderByDescending(File.GetLastWriteTimeUtc).First());
        Type type = assembly.GetTypes().Single(static t => !t.IsAbstract && typeof(IIncrementalGenerator).IsAssignableFrom(t));
        return (IIncrementalGenerator)Activator.CreateInstance(type)!;
    }
}
