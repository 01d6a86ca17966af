// slabtop against a real process: the Particles sample runs its frame loop while the tool attaches through EventPipe.
using System.Diagnostics;
using System.Text.Json;
using Microsoft.Diagnostics.NETCore.Client;
using Xunit.Abstractions;

namespace SlabGen.Top.Tests;

[Collection(ParticlesProcess.Collection)]
public sealed class EndToEndTests(ParticlesProcess particles, ITestOutputHelper output) : IClassFixture<ParticlesProcess>
{
    private static readonly string s_tool = Path.Combine(AppContext.BaseDirectory, "SlabGen.Top.dll");

    [Fact]
    public void Json_once_shows_the_particle_cache_row_the_pages_and_the_sample_s_vmalloc_area()
    {
        int pid = particles.Id;

        (int exit, string stdout, string stderr) = Run("-p", pid.ToString(System.Globalization.CultureInfo.InvariantCulture), "--json", "--timeout", "60");

        output.WriteLine(stdout + stderr);
        Assert.True(exit == 0, stderr);
        using JsonDocument json = JsonDocument.Parse(stdout);
        JsonElement root = json.RootElement;
        Assert.Equal(pid, root.GetProperty("processId").GetInt32());
        JsonElement particle = root.GetProperty("caches").EnumerateArray().Single(static c => c.GetProperty("name").GetString() == "particle");
        long live = particle.GetProperty("live").GetInt64(), active = particle.GetProperty("active").GetInt64();
        long total = particle.GetProperty("total").GetInt64(), slabs = particle.GetProperty("slabs").GetInt64();
        long memory = particle.GetProperty("memoryBytes").GetInt64();
        // The sample keeps about 130 frames of 100 spawns alive; HwCacheAlign gives its 28-byte particles 64-byte slots.
        Assert.Equal(64, particle.GetProperty("slotSize").GetInt64());
        Assert.InRange(live, 1_000, total);
        Assert.InRange(active, 1_000, total);
        Assert.True(slabs > 0 && memory % 4096 == 0 && memory >= total * 64, $"slabs {slabs}, memory {memory}, total {total}");
        // The page instruments describe PageAllocator.Shared; the sample's particles live in their own budget allocator.
        JsonElement pages = root.GetProperty("pages");
        Assert.Equal(11, pages.GetProperty("freeBlocks").GetArrayLength());
        Assert.Equal(11, pages.GetProperty("fragmentationIndex").GetArrayLength());
        Assert.True(root.GetProperty("vmalloc").GetProperty("bytes").GetInt64() >= 16 << 20, "the sample's 16 MiB level data is a vmalloc area");

        // Every page allocator of the process, with its name: the sample's 64 MiB budget, whose arenas hold the particle
        // slabs (the shared allocator, first when there is one, is made only when something uses it).
        JsonElement[] allocators = [.. root.GetProperty("pageAllocators").EnumerateArray()];
        Assert.DoesNotContain(allocators.Skip(1), static a => a.GetProperty("name").GetString() == "shared");
        JsonElement budget = allocators.Single(static a => a.GetProperty("name").GetString() == "particles");
        Assert.True(budget.GetProperty("arenas").GetInt64() * (4 << 20) >= memory, $"the budget's arenas hold the {memory} bytes of particle slabs");
        Assert.Equal(11, budget.GetProperty("freeBlocks").GetArrayLength());
    }

    [Fact]
    public void Once_by_name_prints_the_table_with_the_particle_row_and_the_free_block_chart()
    {
        (int exit, string stdout, string stderr) = Run("-n", "SlabGen.Samples.Particles", "--once", "-s", "c", "--timeout", "60");

        output.WriteLine(stdout + stderr);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"SlabGen.Samples.Particles ({particles.Id})", stdout, StringComparison.Ordinal);
        Assert.Contains("sort: cache size (c)", stdout, StringComparison.Ordinal);
        string row = stdout.Split('\n').Single(static l => l.TrimEnd().EndsWith(" particle", StringComparison.Ordinal));
        Assert.Contains(" 0.06K ", row, StringComparison.Ordinal);
        Assert.Contains("free blocks per order", stdout, StringComparison.Ordinal);
        Assert.Contains("order 10", stdout, StringComparison.Ordinal);
        Assert.Contains("frag index", stdout, StringComparison.Ordinal);
        Assert.Contains(stdout.Split('\n'), static l => l.TrimStart().StartsWith("Pages particles #", StringComparison.Ordinal) && !l.Contains("arenas 0,", StringComparison.Ordinal));
    }

    [Fact]
    public void The_output_README_and_docs_show_is_what_slabtop_prints_now()
    {
        (int exit, string stdout, string stderr) = Run("-n", "SlabGen.Samples.Particles", "--once", "--timeout", "60");
        Assert.True(exit == 0, stderr);
        string printed = string.Join('\n', stdout.Split('\n').Select(static l => l.TrimEnd())).TrimEnd() + "\n";
        string root = ParticlesProcess.SampleDirectory();
        while (!File.Exists(Path.Combine(root, "SlabGen.sln")))
        {
            root = Path.GetDirectoryName(root)!;
        }

        foreach (string doc in (string[])["README.md", Path.Combine("docs", "slabtop.md")])
        {
            string path = Path.Combine(root, doc);
            string text = File.ReadAllText(path);
            int start = text.IndexOf("```text\nslabtop  SlabGen.Samples.Particles", StringComparison.Ordinal) + "```text\n".Length;
            int end = text.IndexOf("```", start, StringComparison.Ordinal);
            Assert.True(start > 8 && end > start, $"{doc} shows no slabtop output");
            if (Environment.GetEnvironmentVariable("SLABGEN_UPDATE_BASELINES") == "1")
            {
                File.WriteAllText(path, text[..start] + printed + text[end..]);
                continue;
            }

            // The figures move from run to run; the lines, their labels, the columns and the allocators may not.
            Assert.Equal(Shape(text[start..end]), Shape(printed));
        }
    }

    /// <summary>A slabtop screen without its figures: digits, bars and runs of spaces masked.</summary>
    private static string[] Shape(string screen) =>
        [.. screen.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(static l =>
            System.Text.RegularExpressions.Regex.Replace(System.Text.RegularExpressions.Regex.Replace(l.Replace("█", ""), "-?[0-9][0-9.,:%K-]*", "#"), "[ ─]+", " ").Trim())];

    [Fact]
    public void A_process_id_that_is_no_dotnet_process_exits_2_naming_it()
    {
        (int exit, _, string stderr) = Run("-p", "999999", "--once");

        Assert.Equal(2, exit);
        Assert.Contains("process 999999 is not a running .NET process", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dotnet_process_without_SlabGen_exits_3_after_the_timeout()
    {
        // This test process never loads SlabGen: its runtime answers, but no SlabGen meter ever reports.
        (int exit, _, string stderr) = Run("-p", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture), "--once", "--timeout", "3");

        Assert.Equal(3, exit);
        Assert.Contains("reported no SlabGen measurements in 3 s", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task By_name_it_waits_for_a_process_that_starts_after_it_and_gives_up_after_the_timeout()
    {
        // A copy of the sample under a name of its own, started two seconds after slabtop (as `dotnet run … &` would be).
        string copy = ParticlesProcess.CopyAs("SlabtopWaitTarget");
        var tool = Task.Run(() => Run("-n", "SlabtopWaitTarget", "--once", "--timeout", "90"));
        await Task.Delay(2000);
        Assert.False(tool.IsCompleted, "slabtop did not wait for the process");
        using Process late = ParticlesProcess.Start(Path.Combine(copy, "SlabtopWaitTarget.dll"));
        try
        {
            (int exit, string stdout, string stderr) = await tool;
            output.WriteLine(stdout + stderr);
            Assert.True(exit == 0, stderr);
            Assert.Contains($"SlabtopWaitTarget ({late.Id})", stdout, StringComparison.Ordinal);
            Assert.Contains(" particle", stdout, StringComparison.Ordinal);
            Assert.Contains(stdout.Split('\n'), static l => l.TrimStart().StartsWith("Pages particles #", StringComparison.Ordinal)); // its budget allocator
        }
        finally
        {
            late.Kill(entireProcessTree: true);
            late.WaitForExit();
            Directory.Delete(copy, recursive: true);
        }

        var stopwatch = Stopwatch.StartNew();
        (int gone, _, string message) = Run("-n", "SlabtopNeverStarted", "--once", "--timeout", "2");
        Assert.Equal(2, gone);
        Assert.True(stopwatch.Elapsed >= TimeSpan.FromSeconds(2), $"gave up after {stopwatch.Elapsed}");
        Assert.Contains("no .NET process is named 'SlabtopNeverStarted' after waiting 2 s", message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_bad_command_line_exits_1_with_the_usage()
    {
        (int exit, _, string stderr) = Run("--once");

        Assert.Equal(1, exit);
        Assert.Contains("-p <pid> or -n <name>", stderr, StringComparison.Ordinal);
        Assert.Contains("usage: slabtop", stderr, StringComparison.Ordinal);
    }

    private static (int Exit, string Stdout, string Stderr) Run(params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(s_tool);
        foreach (string arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using Process tool = Process.Start(start)!;
        Task<string> stdout = tool.StandardOutput.ReadToEndAsync();
        Task<string> stderr = tool.StandardError.ReadToEndAsync();
        if (!tool.WaitForExit(TimeSpan.FromSeconds(120)))
        {
            tool.Kill(entireProcessTree: true);
            throw new TimeoutException("slabtop did not exit in 120 s");
        }

        return (tool.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>The Particles sample, running frames until the test class is done, once its diagnostics port is up.</summary>
public sealed class ParticlesProcess : IDisposable
{
    /// <summary>The test collection of every class that starts processes named SlabGen.Samples.Particles: they run one after another, so `slabtop -n` finds one.</summary>
    public const string Collection = "processes named SlabGen.Samples.Particles";

    private readonly Process _process;

    public ParticlesProcess()
    {
        string sample = Path.Combine(SampleDirectory(), "SlabGen.Samples.Particles.dll");
        _process = Start(sample);
        var stopwatch = Stopwatch.StartNew();
        while (!DiagnosticsClient.GetPublishedProcesses().Contains(_process.Id))
        {
            if (_process.HasExited || stopwatch.Elapsed > TimeSpan.FromSeconds(60))
            {
                throw new InvalidOperationException($"the Particles sample ({sample}) did not open its diagnostics port");
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>Starts the sample's frame loop from <paramref name="dll"/> (its output discarded).</summary>
    public static Process Start(string dll)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true };
        foreach (string arg in (string[])[dll, "--frames", "100000000", "--spawn", "100"])
        {
            start.ArgumentList.Add(arg);
        }

        Process process = Process.Start(start)!;
        process.OutputDataReceived += static (_, _) => { };
        process.BeginOutputReadLine();
        return process;
    }

    /// <summary>A copy of the built sample in a temporary folder, its assembly, deps and runtimeconfig renamed to <paramref name="name"/>.</summary>
    public static string CopyAs(string name)
    {
        string copy = Directory.CreateTempSubdirectory("slabtop-sample-").FullName;
        foreach (string file in Directory.GetFiles(SampleDirectory()))
        {
            string fileName = Path.GetFileName(file).Replace("SlabGen.Samples.Particles", name, StringComparison.Ordinal);
            File.Copy(file, Path.Combine(copy, fileName));
        }

        return copy;
    }

    /// <summary>The sample's build output: bin/&lt;configuration&gt;/net10.0/ of this project names the configuration.</summary>
    internal static string SampleDirectory()
    {
        var output = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        string configuration = output.Parent!.Name;
        DirectoryInfo root = output;
        while (!File.Exists(Path.Combine(root.FullName, "SlabGen.sln")))
        {
            root = root.Parent ?? throw new InvalidOperationException("SlabGen.sln not found above " + AppContext.BaseDirectory);
        }

        return Path.Combine(root.FullName, "samples", "SlabGen.Samples.Particles", "bin", configuration, "net10.0");
    }

    public int Id => _process.Id;

    public void Dispose()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
        _process.Dispose();
    }
}
