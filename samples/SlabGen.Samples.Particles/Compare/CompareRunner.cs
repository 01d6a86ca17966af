// `--compare`: runs the game loop once per variant, each in its own child process (a fresh heap and JIT per variant),
// under workstation and server GC, and prints one markdown table per GC mode: frame-time percentiles and the collector's
// work during the measured frames. Writes a frame-time chart per GC mode (SVG). `--variant NAME --out FILE` is the
// child's side: it runs one variant and writes its figures to FILE.
using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace SlabGen.Samples.Particles.Compare;

internal static class CompareRunner
{
    /// <summary>Frames run before the measured ones: four particle lifetimes, about 1.5 s (the same in every variant, which simulate the same particles).</summary>
    private const int WarmUpFrames = 4 * GameLoop.MaxLife;

    /// <summary>The parent: a child per variant and GC mode, then the tables and charts. Returns the exit code.</summary>
    public static int Run(string[] args)
    {
        int frames = Option(args, "--frames", 3000);
        int spawn = Option(args, "--spawn", 2000);
        int entities = Option(args, "--entities", 200_000);
        string gcModes = StringOption(args, "--gc", "both");
        string chartDirectory = StringOption(args, "--chart-dir", ".");
        int rounds = Option(args, "--rounds", 1);
        string[] modes = gcModes switch
        {
            "both" => ["workstation", "server"],
            "workstation" or "server" => [gcModes],
            _ => throw new ArgumentException($"--gc takes workstation, server or both, not '{gcModes}'"),
        };

        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Game loop compared: {rounds} round(s) of {frames:N0} frames after {WarmUpFrames} of warm-up, {spawn:N0} spawns a frame (about {spawn * 75:N0} live particles), a scene of {entities:N0} managed entities; {Environment.ProcessorCount} cores, .NET {Environment.Version}"));
        foreach (string mode in modes)
        {
            // Rounds alternate the order of the variants (the machine's noise drifts); a variant's rounds are pooled.
            var runs = GameLoop.Variants.ToDictionary(static v => v, static _ => new List<VariantResult>());
            for (int round = 0; round < rounds; round++)
            {
                foreach (string variant in round % 2 == 0 ? GameLoop.Variants : Enumerable.Reverse(GameLoop.Variants))
                {
                    runs[variant].Add(RunChild(variant, mode, frames, spawn, entities));
                }
            }

            List<VariantResult> results = [.. GameLoop.Variants.Select(v => VariantResult.Pool(runs[v]))];

            double[] checksums = [.. results.Select(static r => r.Checksum)];
            if (checksums.Any(c => Math.Abs(c - checksums[0]) > 1e-6 * Math.Max(1, Math.Abs(checksums[0]))) || results.Any(r => r.Live != results[0].Live))
            {
                Console.Error.WriteLine("the variants did not simulate the same particles: " + string.Join(", ", results.Select(static r => $"{r.Variant}: {r.Live} live, sum {r.Checksum}")));
                return 1;
            }

            Console.WriteLine();
            Console.WriteLine($"{char.ToUpperInvariant(mode[0])}{mode[1..]} GC:");
            Console.WriteLine();
            Console.Write(Table(results));
            string chart = FrameChart.Write(results, mode, Path.Combine(chartDirectory, $"game-loop-{mode}.svg"));
            Console.WriteLine();
            Console.WriteLine($"chart: {chart}");
        }

        return 0;
    }

    /// <summary>The table, a row per variant: the figures the README shows.</summary>
    public static string Table(IReadOnlyList<VariantResult> results)
    {
        var table = new StringBuilder()
            .Append("| variant | frames | p50 ms | p99 ms | p99.9 ms | max ms | GCs (0/1/2) | GC pause ms | managed MB allocated |\n")
            .Append("|---|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        foreach (VariantResult r in results)
        {
            table.Append(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Variant} | {r.FrameMs.Length:N0} | {r.Percentile(0.50):F3} | {r.Percentile(0.99):F3} | {r.Percentile(0.999):F3} | {r.FrameMs.Max():F3} | {r.Gen0}/{r.Gen1}/{r.Gen2} | {r.PauseMs:F1} | {r.AllocatedBytes / 1048576.0:F1} |\n"));
        }

        return table.ToString();
    }

    /// <summary>The child: one variant, warm-up frames, then the measured frames; its figures go to <c>--out</c>.</summary>
    public static int RunVariant(string[] args)
    {
        string variant = StringOption(args, "--variant", "");
        string output = StringOption(args, "--out", "");
        int frames = Option(args, "--frames", 3000);
        int spawn = Option(args, "--spawn", 2000);
        var scene = new Scene(Option(args, "--entities", 200_000));
        GameLoop loop = GameLoop.Create(variant, spawn, seed: 7);
        bool slabGen = variant == GameLoop.Variants[0];

        // Warm-up runs exactly what a measured frame runs (the SlabGen loop inside its interrupt-context scope), for long
        // enough that the tiered JIT is done with it: code first run in the measured frames, or tiered up in their first
        // second, showed as frames of 5-7 ms there, in every variant.
        for (int i = 0; i < WarmUpFrames; i++)
        {
            Frame(scene, loop, slabGen);
        }

        var frameMs = new double[frames];
        int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
        TimeSpan pause = GC.GetTotalPauseDuration();
        long allocated = GC.GetTotalAllocatedBytes(precise: true);
        for (int i = 0; i < frames; i++)
        {
            long start = Stopwatch.GetTimestamp();
            Frame(scene, loop, slabGen);
            frameMs[i] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
        }

        // CollectionCount(n) counts the collections of generation n and above: the table gives each generation's own.
        int d0 = GC.CollectionCount(0) - gen0, d1 = GC.CollectionCount(1) - gen1, d2 = GC.CollectionCount(2) - gen2;
        var result = new VariantResult(variant, frameMs, d0 - d1, d1 - d2, d2,
            (GC.GetTotalPauseDuration() - pause).TotalMilliseconds, GC.GetTotalAllocatedBytes(precise: true) - allocated, loop.Live, loop.Checksum);
        File.WriteAllText(output, result.Serialize());
        loop.Clear();
        GC.KeepAlive(scene);
        return 0;
    }

    private static VariantResult RunChild(string variant, string mode, int frames, int spawn, int entities)
    {
        string output = Path.GetTempFileName();
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet")
        {
            start.ArgumentList.Add(typeof(CompareRunner).Assembly.Location);
        }

        foreach (string arg in (string[])["--variant", variant, "--out", output, "--frames", $"{frames}", "--spawn", $"{spawn}", "--entities", $"{entities}"])
        {
            start.ArgumentList.Add(arg);
        }

        start.Environment["DOTNET_gcServer"] = mode == "server" ? "1" : "0";
        start.Environment["DOTNET_GCHeapHardLimit"] = null;
        using Process child = Process.Start(start)!;
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        _ = child.StandardOutput.ReadToEnd();
        child.WaitForExit();
        if (child.ExitCode != 0)
        {
            throw new InvalidOperationException($"the '{variant}' run ({mode} GC) exited with {child.ExitCode}: {stderr.Result}");
        }

        VariantResult result = VariantResult.Parse(variant, File.ReadAllText(output));
        File.Delete(output);
        return result;
    }

    /// <summary>One frame of the game: the scene's managed work, then the loop's (SlabGen's in interrupt context).</summary>
    private static void Frame(Scene scene, GameLoop loop, bool interruptContext)
    {
        if (interruptContext)
        {
            using (InterruptContext.Enter())
            {
                scene.Touch();
                loop.Frame();
            }
        }
        else
        {
            scene.Touch();
            loop.Frame();
        }
    }

    public static int Option(string[] args, string name, int fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
    }

    private static string StringOption(string[] args, string name, string fallback)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
    }
}

/// <summary>One variant's run: its frame times in order and the collector's work during them (collections of each generation alone).</summary>
internal sealed record VariantResult(string Variant, double[] FrameMs, int Gen0, int Gen1, int Gen2, double PauseMs, long AllocatedBytes, long Live, double Checksum)
{
    /// <summary>Several runs of one variant as one: frames one after the other, collections and bytes added up.</summary>
    public static VariantResult Pool(IReadOnlyList<VariantResult> runs) => runs.Count == 1 ? runs[0] : new VariantResult(
        runs[0].Variant, [.. runs.SelectMany(static r => r.FrameMs)], runs.Sum(static r => r.Gen0), runs.Sum(static r => r.Gen1), runs.Sum(static r => r.Gen2),
        runs.Sum(static r => r.PauseMs), runs.Sum(static r => r.AllocatedBytes), runs[0].Live, runs[0].Checksum);

    /// <summary>The frame time below which a share <paramref name="p"/> of the frames fall (nearest rank).</summary>
    public double Percentile(double p)
    {
        double[] sorted = [.. FrameMs.Order()];
        return sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
    }

    public string Serialize() => string.Create(CultureInfo.InvariantCulture,
        $"{Gen0} {Gen1} {Gen2} {PauseMs:R} {AllocatedBytes} {Live} {Checksum:R}\n{string.Join('\n', FrameMs.Select(static f => f.ToString("R", CultureInfo.InvariantCulture)))}\n");

    public static VariantResult Parse(string variant, string text)
    {
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] head = lines[0].Split(' ');
        CultureInfo c = CultureInfo.InvariantCulture;
        return new VariantResult(variant, [.. lines.Skip(1).Select(l => double.Parse(l, c))], int.Parse(head[0], c), int.Parse(head[1], c), int.Parse(head[2], c),
            double.Parse(head[3], c), long.Parse(head[4], c), long.Parse(head[5], c), double.Parse(head[6], c));
    }
}
