// The memory goals against the native peers: each workload runs in a child process of its own per allocator (SlabGen's
// Kmalloc, and NativeMemory under glibc and under every installed peer through LD_PRELOAD), which reports its resident
// set (Rss of /proc/self/smaps_rollup; the peak from VmHWM of /proc/self/status) beyond what it had before the workload,
// per live byte. RSS is the one measure every allocator shares; SlabGen also reports the bytes its page allocator holds
// from the OS.
using System.Diagnostics;
using System.Globalization;

namespace SlabGen.Benchmarks;

internal static unsafe class MemoryPeers
{
    /// <summary>The argument that makes this program a memory child: --memory-child {workload} {kmalloc|native}.</summary>
    public const string ChildSwitch = "--memory-child";

    private static readonly string[] Workloads = ["mixed", "larson"];

    /// <summary>Larson's memory run: live objects per thread, rounds, replacements per thread per round.</summary>
    private const int LarsonSlots = 50_000, LarsonRounds = 8, LarsonOpsPerRound = 50_000;

    /// <summary>
    /// Children per workload and allocator; each figure is the median.
    /// </summary>
    private const int Processes = 3;

    /// <summary>Runs every workload under every allocator, prints the table, returns how many goals were missed.</summary>
    public static int Check(TextWriter output)
    {
        if (!File.Exists("/proc/self/status"))
        {
            output.WriteLine();
            output.WriteLine("Memory against the peers: needs Linux's /proc/self/status; skipped (counts as 1 goal missed).");
            return 1;
        }

        var allocators = new List<(string Name, string Kind, string? Preload)> { ("SlabGen Kmalloc", "kmalloc", null), ("glibc", "native", null) };
        allocators.AddRange(NativePeers.Installed.Select(p => (p.Name, "native", (string?)p.Path)));
        var results = new Dictionary<(string Workload, string Allocator), Dictionary<string, double>>();
        try
        {
            foreach (string workload in Workloads)
            {
                foreach ((string name, string kind, string? preload) in allocators)
                {
                    results[(workload, name)] = Median(Enumerable.Range(0, Processes).Select(_ => RunChild(workload, kind, preload)).ToList());
                }
            }
        }
        catch (InvalidOperationException e)
        {
            output.WriteLine();
            output.WriteLine($"Memory against the peers: {e.Message} (counts as 1 goal missed).");
            return 1;
        }

        (string Workload, string Key, string Label, bool Goal)[] rows =
        [
            ("mixed", "steady", "mixed workload, steady state (64 MiB live): RSS per live byte", true),
            ("mixed", "peak", "mixed workload, peak RSS per peak live byte", false),
            ("mixed", "drop", "mixed workload after a random third is freed: RSS per live byte", true),
            ("mixed", "trimmed", "the same after Shrink and Trim (SlabGen only)", false),
            ("mixed", "os", "mixed workload, steady state: the allocator's own bytes from the OS per live byte", false),
            ("larson", "steady", "larson, 2 threads (about 48 MiB live, objects freed by the other thread): RSS per live byte", true),
            ("larson", "peak", "larson, peak RSS per peak live byte", false),
        ];
        output.WriteLine();
        output.WriteLine($"Memory: median of {Processes} processes per allocator and workload; RSS beyond the process's own before the workload.");
        output.WriteLine("| memory, same run | " + string.Join(" | ", allocators.Select(a => a.Name)) + " | goal: SlabGen ≤ mimalloc |");
        output.WriteLine("|---|" + string.Concat(allocators.Select(_ => "---:|")) + "---|");
        int missed = 0;
        foreach ((string workload, string key, string label, bool goal) in rows)
        {
            IEnumerable<string> cells = allocators.Select(a => results[(workload, a.Name)].TryGetValue(key, out double v)
                ? v.ToString("F3", CultureInfo.InvariantCulture) : "");
            string verdict = "";
            if (goal)
            {
                bool met = results.TryGetValue((workload, "mimalloc"), out Dictionary<string, double>? theirs)
                    && results[(workload, "SlabGen Kmalloc")][key] <= theirs[key];
                verdict = theirs is null ? "MISSED (mimalloc not installed)" : met ? "met" : "MISSED";
                missed += met ? 0 : 1;
            }

            output.WriteLine($"| {label} | {string.Join(" | ", cells)} | {verdict} |");
        }

        return missed;
    }

    /// <summary>The child's side: runs one workload on one allocator and prints its figures as key=value.</summary>
    public static int Child(string workload, string kind)
    {
        bool kmalloc = kind == "kmalloc";
        Func<nuint, nint> raw = kmalloc ? static size => (nint)Kmem.Kmalloc(size) : static size => (nint)System.Runtime.InteropServices.NativeMemory.Alloc(size);

        // Every object is written whole, as a program writes what it allocates: an allocator that keeps its metadata
        // apart (jemalloc) would otherwise leave untouched pages out of the RSS.
        Func<nuint, nint> alloc = size =>
        {
            nint obj = raw(size);
            new Span<byte>((void*)obj, (int)size).Fill(0xA5);
            return obj;
        };
        Action<nint> free = kmalloc ? static obj => Kmem.Kfree((void*)obj) : static obj => System.Runtime.InteropServices.NativeMemory.Free((void*)obj);
        var figures = new Dictionary<string, double>();
        if (workload == "mixed")
        {
            var mixed = new MixedWorkload(size => alloc((nuint)MixedWorkload.Sizes[size]), (_, obj) => free(obj), new Random(2026));
            long baseline = Baseline(raw, free);
            mixed.GrowAndChurn();
            figures["steady"] = (double)(Rss() - baseline) / mixed.LiveBytes;
            if (s_peakReset)
            {
                figures["peak"] = (double)(PeakRss() - s_counterBaseline) / mixed.LiveBytes;
            }
            if (kmalloc)
            {
                figures["os"] = (double)PageAllocator.Shared.BytesFromOs / mixed.LiveBytes;
            }

            mixed.Drop();
            Thread.Sleep(200); // allocators that give memory back after a delay get it
            figures["drop"] = (double)(Rss() - baseline) / mixed.LiveBytes;
            if (kmalloc)
            {
                foreach (KmemCache cache in KmallocCaches.Caches)
                {
                    cache.Shrink();
                }

                PageAllocator.Shared.Trim();
                figures["trimmed"] = (double)(Rss() - baseline) / mixed.LiveBytes;
            }
        }
        else
        {
            (long live, long peakLive, long baseline) = Larson(alloc, free, () => Baseline(raw, free));
            figures["steady"] = (double)(Rss() - baseline) / live;
            if (s_peakReset)
            {
                figures["peak"] = (double)(PeakRss() - s_counterBaseline) / peakLive;
            }
        }

        Console.WriteLine("memory " + string.Join(' ', figures.Select(f => string.Create(CultureInfo.InvariantCulture, $"{f.Key}={f.Value:R}"))));
        return 0;
    }

    /// <summary>
    /// Larson on 2 threads: each replaces random objects of 8..1,000 bytes in its set; after every round the threads
    /// trade sets, so most frees are of the other thread's objects.
    /// </summary>
    private static (long Live, long PeakLive, long Baseline) Larson(Func<nuint, nint> alloc, Action<nint> free, Func<long> baseline)
    {
        var sets = new WorkloadBenchmarks.Replacements[2];
        long[] liveBytes = new long[2];
        for (int t = 0; t < 2; t++)
        {
            var random = new Random(4141 + t);
            sets[t] = new WorkloadBenchmarks.Replacements
            {
                Live = new nint[LarsonSlots],
                Victims = Enumerable.Range(0, LarsonOpsPerRound).Select(_ => random.Next(LarsonSlots)).ToArray(),
                Sizes = Enumerable.Range(0, LarsonSlots + LarsonOpsPerRound).Select(_ => (nuint)random.Next(WorkloadBenchmarks.LarsonMin, WorkloadBenchmarks.LarsonMax + 1)).ToArray(),
            };
        }

        long[][] sizes = [new long[LarsonSlots], new long[LarsonSlots]];
        long before = baseline();
        for (int t = 0; t < 2; t++)
        {
            for (int i = 0; i < LarsonSlots; i++)
            {
                sets[t].Live[i] = alloc(sets[t].Sizes[LarsonOpsPerRound + i]);
                sizes[t][i] = (long)sets[t].Sizes[LarsonOpsPerRound + i];
            }
        }

        long peakLive = 0;
        for (int round = 0; round < LarsonRounds; round++)
        {
            Thread[] threads = Enumerable.Range(0, 2).Select(t => new Thread(() =>
            {
                WorkloadBenchmarks.Replacements set = sets[t];
                for (int i = 0; i < LarsonOpsPerRound; i++)
                {
                    int slot = set.Victims[i];
                    free(set.Live[slot]);
                    set.Live[slot] = alloc(set.Sizes[i]);
                    sizes[t][slot] = (long)set.Sizes[i];
                }
            })).ToArray();
            Array.ForEach(threads, static t => t.Start());
            Array.ForEach(threads, static t => t.Join());
            (sets[0].Live, sets[1].Live, sizes[0], sizes[1]) = (sets[1].Live, sets[0].Live, sizes[1], sizes[0]);
            liveBytes[0] = sizes[0].Sum() + sizes[1].Sum();
            peakLive = Math.Max(peakLive, liveBytes[0]);
        }

        return (liveBytes[0], peakLive, before);
    }

    private static Dictionary<string, double> Median(List<Dictionary<string, double>> runs) =>
        runs[0].Keys.ToDictionary(static key => key, key => runs.Select(r => r[key]).Order().ElementAt(runs.Count / 2));

    private static Dictionary<string, double> RunChild(string workload, string kind, string? preload)
    {
        string self = typeof(MemoryPeers).Assembly.Location;
        var start = new ProcessStartInfo(Environment.ProcessPath!) { RedirectStandardOutput = true, RedirectStandardError = true };
        if (Path.GetFileNameWithoutExtension(Environment.ProcessPath!) == "dotnet")
        {
            start.ArgumentList.Add(self);
        }

        foreach (string argument in (string[])[ChildSwitch, workload, kind])
        {
            start.ArgumentList.Add(argument);
        }

        if (preload is not null)
        {
            start.Environment["LD_PRELOAD"] = preload;
        }

        using Process child = Process.Start(start)!;
        string stdout = child.StandardOutput.ReadToEnd();
        string stderr = child.StandardError.ReadToEnd();
        child.WaitForExit();
        string? line = stdout.Split('\n').FirstOrDefault(static l => l.StartsWith("memory ", StringComparison.Ordinal));
        if (child.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"memory child {workload} {kind} (LD_PRELOAD={preload}) exited {child.ExitCode}: {stderr}");
        }

        return line["memory ".Length..].Split(' ').Select(static pair => pair.Split('='))
            .ToDictionary(static kv => kv[0], static kv => double.Parse(kv[1], CultureInfo.InvariantCulture));
    }

    /// <summary>
    /// The RSS before the workload, with the peak reset to it: after one object of every size up to 4 KiB was
    /// allocated and freed (so each allocator's start-up, and SlabGen's code and caches, are in it: the ratio is of
    /// what grows with the live bytes) and a full collection.
    /// </summary>
    private static long Baseline(Func<nuint, nint> alloc, Action<nint> free)
    {
        nint[] warm = new nint[512];
        for (int i = 0; i < warm.Length; i++)
        {
            warm[i] = alloc((nuint)(8 * (i + 1)));
        }

        Array.ForEach(warm, free);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5"); // resets VmHWM to the current VmRSS
            s_counterBaseline = Status("VmRSS:"); // the peak is of the same counters
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            s_peakReset = false; // the peak would include what came before the workload: not reported
        }

        return Rss();
    }

    private static bool s_peakReset = true;

    /// <summary>VmRSS when VmHWM was reset: the peak's baseline (both come from the kernel's counters).</summary>
    private static long s_counterBaseline;

    /// <summary>
    /// The resident bytes, from smaps_rollup (a walk of the page tables) when there is one, else VmRSS (the kernel's
    /// approximate counters).
    /// </summary>
    private static long Rss() => File.Exists("/proc/self/smaps_rollup") ? Kilobytes("/proc/self/smaps_rollup", "Rss:") : Status("VmRSS:");

    private static long PeakRss() => Status("VmHWM:");

    /// <summary>A /proc/self/status line in bytes (the file gives kB).</summary>
    private static long Status(string key) => Kilobytes("/proc/self/status", key);

    /// <summary>A "Key: n kB" line of a /proc file, in bytes.</summary>
    private static long Kilobytes(string file, string key) => 1024 * long.Parse(File.ReadLines(file).First(l => l.StartsWith(key, StringComparison.Ordinal))[key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
}
