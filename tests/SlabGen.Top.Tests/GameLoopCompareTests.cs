// The Particles sample's --compare mode, small: four child processes, one table with a row per variant named as the
// README names them, the same particles simulated in each (the parent checks it), and the figures that are facts
// rather than timings: SlabGen's frames allocate no managed memory and cause no collection; class + new allocates.
using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace SlabGen.Top.Tests;

[Collection(ParticlesProcess.Collection)]
public sealed class GameLoopCompareTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Compare_prints_a_row_per_variant_and_a_chart_and_SlabGen_frames_allocate_nothing()
    {
        string charts = Directory.CreateTempSubdirectory("game-loop-").FullName;
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])[Path.Combine(ParticlesProcess.SampleDirectory(), "SlabGen.Samples.Particles.dll"),
            "--compare", "--frames", "200", "--spawn", "300", "--entities", "20000", "--gc", "workstation", "--chart-dir", charts])
        {
            start.ArgumentList.Add(arg);
        }

        using Process compare = Process.Start(start)!;
        Task<string> stdout = compare.StandardOutput.ReadToEndAsync();
        Task<string> stderr = compare.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        await compare.WaitForExitAsync(timeout.Token);
        string text = await stdout;
        output.WriteLine(text + await stderr);

        Assert.Equal(0, compare.ExitCode);
        string[] lines = text.Split('\n');
        Assert.Contains("| variant | frames | p50 ms | p99 ms | p99.9 ms | max ms | GCs (0/1/2) | GC pause ms | managed MB allocated |", lines);
        string[][] rows = [.. lines.Where(static l => l.StartsWith("| ", StringComparison.Ordinal) && !l.StartsWith("| variant", StringComparison.Ordinal))
            .Select(static l => l.Trim('|').Split('|').Select(static c => c.Trim()).ToArray())];
        Assert.Equal(["SlabGen [SlabCache]", "class + new", "ObjectPool<T>", "struct array + free list"], rows.Select(static r => r[0]));
        Assert.All(rows, static r => Assert.Equal("200", r[1]));
        Assert.All(rows, static r => Assert.True(double.Parse(r[2], CultureInfo.InvariantCulture) <= double.Parse(r[5], CultureInfo.InvariantCulture), "p50 above max"));
        Assert.Equal("0/0/0", rows[0][6]);
        Assert.Equal("0.0", rows[0][8]);
        Assert.True(double.Parse(rows[1][8], CultureInfo.InvariantCulture) > 1, "class + new allocated under 1 MB in 200 frames of 300 spawns");
        string chart = Path.Combine(charts, "game-loop-workstation.svg");
        Assert.Contains("<svg", await File.ReadAllTextAsync(chart), StringComparison.Ordinal);
        Directory.Delete(charts, recursive: true);
    }
}
