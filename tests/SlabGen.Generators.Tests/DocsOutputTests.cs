// The doc blocks that show what a program prints: the C# block before <!-- output --> is built (with the generator, as
// Program.cs with an embedded PDB, so file and line show as in a user's project), run in a child process against
// SlabGen, and what it prints compared with the block. An unhandled exception counts as its "Type: message" line, as the
// docs show it. Addresses (0x and 8 or more hex digits) vary between runs and match any address; line breaks and runs
// of spaces match any whitespace, so the docs may wrap long messages.
using System.Diagnostics;
using System.Text.RegularExpressions;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Emit;

namespace SlabGen.Generators.Tests;

public partial class DocsCompileTests
{
    public static TheoryData<string, int> BlocksWithOutput()
    {
        var data = new TheoryData<string, int>();
        foreach ((string file, int line, _, string? output) in AllBlocks())
        {
            if (output is not null)
            {
                data.Add(file, line);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BlocksWithOutput))]
    public void Every_block_that_shows_output_prints_it(string file, int line)
    {
        (_, _, string code, string? expected) = AllBlocks().Single(b => b.File == file && b.Line == line);

        string printed = RunProgram(code);

        Assert.True(Normalize(printed) == Normalize(expected!), $"{file}:{line} prints\n{printed}\nbut the doc shows\n{expected}");
    }

    [Fact]
    public void Output_that_differs_is_caught_and_addresses_and_wrapping_are_not_differences()
    {
        string printed = RunProgram("""
            using SlabGen;
            unsafe
            {
                var cache = KmemCache.Create("doc-output-check", 40, 0);
                void* p = cache.Alloc();
                Console.WriteLine($"object at 0x{(nuint)p:x16} from {cache.Name}");
                cache.Free(p);
                cache.Free(p);
            }
            """);

        Assert.Equal(Normalize("object at 0x00007f0000000000 from\ndoc-output-check\nArgumentException: kmem_cache_free(doc-output-check, 0x7f00000000aa): double free: the object is already free (cached by a thread or in the depot). (Parameter 'obj')"),
            Normalize(printed));
        Assert.NotEqual(Normalize("object at 0x00007f0000000000 from another-cache"), Normalize(printed));
    }

    private static string Normalize(string text) =>
        Whitespace().Replace(Address().Replace(text, "0x…"), " ").Trim();

    /// <summary>Builds <paramref name="code"/> and runs it: what it writes to stdout, then an unhandled exception's first line.</summary>
    private static string RunProgram(string code)
    {
        Compilation compilation = Compile(code);
        string directory = Directory.CreateTempSubdirectory("slabgen-doc-").FullName;
        try
        {
            using (FileStream dll = File.Create(Path.Combine(directory, "Doc.dll")))
            {
                EmitResult emitted = compilation.Emit(dll, options: new EmitOptions(debugInformationFormat: DebugInformationFormat.Embedded));
                Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
            }

            string runtime = typeof(SlabCacheAttribute).Assembly.Location;
            File.Copy(runtime, Path.Combine(directory, Path.GetFileName(runtime)));
            File.WriteAllText(Path.Combine(directory, "Doc.runtimeconfig.json"), $$"""
                { "runtimeOptions": { "tfm": "net10.0", "framework": { "name": "Microsoft.NETCore.App", "version": "{{Environment.Version}}" } } }
                """);
            var start = new ProcessStartInfo("dotnet") { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
            start.ArgumentList.Add(Path.Combine(directory, "Doc.dll"));
            using Process program = Process.Start(start)!;
            Task<string> stderr = program.StandardError.ReadToEndAsync();
            string stdout = program.StandardOutput.ReadToEnd();
            Assert.True(program.WaitForExit(TimeSpan.FromSeconds(60)), "the program did not finish in 60 s");
            return stdout + UnhandledException(stderr.Result);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    /// <summary>"Unhandled exception. System.X: message\n   at …" as the docs show it: "X: message", without the stack.</summary>
    private static string UnhandledException(string stderr)
    {
        const string Prefix = "Unhandled exception. ";
        int start = stderr.IndexOf(Prefix, StringComparison.Ordinal);
        if (start < 0)
        {
            return stderr;
        }

        string exception = stderr[(start + Prefix.Length)..];
        int stack = exception.IndexOf("\n   at ", StringComparison.Ordinal);
        exception = stack < 0 ? exception : exception[..stack];
        return exception.StartsWith("System.", StringComparison.Ordinal) ? exception["System.".Length..] : exception;
    }

    [GeneratedRegex("0x[0-9a-fA-F]{8,}")]
    private static partial Regex Address();

    [GeneratedRegex(@"\s+")]
    private static partial Regex Whitespace();
}
