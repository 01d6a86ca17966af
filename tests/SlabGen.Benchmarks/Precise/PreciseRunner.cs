// The precise mode (`--precise`): what judges a fast-path change on a noisy shared machine, beside BenchmarkDotNet,
// which makes the report. Several child processes (PreciseChild.cs) run the same cases: this build under glibc, this
// build with the free checks off, this build with sampling on (SLABGEN_SAMPLE=100ms), this build under each installed native peer (LD_PRELOAD), and optionally another
// build (`--against` its SlabGen.Benchmarks.dll: the previous commit). The runner asks them for rounds in turn, one
// child at a time and in a rotating order, so every comparison is between runs made minutes, not hours, apart; each
// ratio is taken within a round and the rounds' ratios are summarised by median and quartiles. A difference inside
// the quartiles is noise.
using System.Diagnostics;
using System.Globalization;

namespace SlabGen.Benchmarks.Precise;

internal static class PreciseRunner
{
    public static int Run(string[] args)
    {
        bool quick = args.Contains("--quick");
        int rounds = IntOption(args, "--rounds") ?? (quick ? 5 : 15);
        double milliseconds = IntOption(args, "--ms") ?? (quick ? 4 : 20);
        string? against = StringOption(args, "--against");
        string self = typeof(PreciseRunner).Assembly.Location;

        int layouts = IntOption(args, "--layouts") ?? 0;
        if (layouts > 0)
        {
            return RunLayouts(self, layouts, rounds, milliseconds);
        }

        var variants = new List<Variant> { new("glibc", self, []) };
        variants.Add(new("checks off", self, [("SLABGEN_DISABLE_FREE_CHECKS", "1")]));
        variants.Add(new(PreciseReport.SamplingOn, self, [("SLABGEN_SAMPLE", PreciseReport.SamplingRate)]));
        foreach ((string name, string path) in NativePeers.Installed)
        {
            variants.Add(new(name, self, [("LD_PRELOAD", path)]));
        }

        if (args.Contains("--symbols"))
        {
            variants.Add(new(PreciseReport.SymbolsRead, self, [(PreciseChild.SymbolsReadVariable, "1")]));
        }

        if (against is not null)
        {
            variants.Add(new("base", Path.GetFullPath(against), []));
        }

        Console.WriteLine($"Precise mode: {rounds} rounds, about {milliseconds} ms of thread CPU time per case and round; " +
            $"processes: {string.Join(", ", variants.Select(v => v.Name))}" + (against is null ? "" : $" (base: {against})"));
        RunRounds(variants, rounds, milliseconds);

        var report = new PreciseReport(variants.ToDictionary(v => v.Name, v => v.Results), variants[0].Cases, Console.Out);
        report.PrintTimes();
        report.PrintRatios();
        report.PrintSampling();
        report.PrintSymbolsRead();
        int missed = report.PrintGoals();
        if (against is not null)
        {
            report.PrintAgainst("base");
        }

        return quick ? 0 : Math.Min(missed, 1);
    }

    /// <summary>`--layouts K`: an off and a sampling-on process per layout (PreciseLayout.cs), and their table alone.</summary>
    private static int RunLayouts(string self, int layouts, int rounds, double milliseconds)
    {
        var variants = new List<Variant>();
        for (int i = 0; i < layouts; i++)
        {
            string layout = i.ToString(CultureInfo.InvariantCulture);
            variants.Add(new(PreciseLayout.Off(i), self, [(PreciseLayout.Variable, layout)]));
            variants.Add(new(PreciseLayout.On(i), self, [(PreciseLayout.Variable, layout), ("SLABGEN_SAMPLE", PreciseReport.SamplingRate)]));
        }

        Console.WriteLine($"Precise mode, layouts: {rounds} rounds, about {milliseconds} ms of thread CPU time per case and round; {layouts} layouts, an off and an on process each");
        RunRounds(variants, rounds, milliseconds);
        PreciseLayout.Print(variants.ToDictionary(v => v.Name, v => v.Results), PreciseReport.SampledCases, layouts, Console.Out);
        return 0;
    }

    /// <summary>Starts every variant's process, asks them for <paramref name="rounds"/> rounds in a rotating order, and stops them.</summary>
    private static void RunRounds(List<Variant> variants, int rounds, double milliseconds)
    {
        foreach (Variant v in variants)
        {
            v.Start(milliseconds);
        }

        try
        {
            for (int r = 0; r < rounds; r++)
            {
                for (int k = 0; k < variants.Count; k++)
                {
                    variants[(k + r) % variants.Count].Round();
                }
            }
        }
        finally
        {
            foreach (Variant v in variants)
            {
                v.Stop();
            }
        }
    }

    private static int? IntOption(string[] args, string name)
    {
        string? text = StringOption(args, name);
        return text is null ? null : int.Parse(text, CultureInfo.InvariantCulture);
    }

    private static string? StringOption(string[] args, string name)
    {
        int at = Array.IndexOf(args, name);
        return at >= 0 && at + 1 < args.Length ? args[at + 1] : null;
    }

    /// <summary>One child process and the per-round times it reported, by case name.</summary>
    private sealed class Variant(string name, string assembly, (string Key, string Value)[] environment)
    {
        private Process? _process;

        public string Name { get; } = name;

        public string[] Cases { get; private set; } = [];

        public Dictionary<string, List<double>> Results { get; } = [];

        public void Start(double milliseconds)
        {
            var start = new ProcessStartInfo("dotnet")
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("exec");
            start.ArgumentList.Add(assembly);
            start.ArgumentList.Add(PreciseChild.Switch);
            start.ArgumentList.Add(milliseconds.ToString(CultureInfo.InvariantCulture));
            foreach ((string key, string value) in environment)
            {
                start.Environment[key] = value;
            }

            _process = Process.Start(start) ?? throw new InvalidOperationException($"could not start the '{Name}' process");
        }

        public void Round()
        {
            if (Cases.Length == 0)
            {
                string ready = ReadLine();
                Cases = ready.Split('\t').Skip(1).Select(c => c.Split('|')[0]).ToArray();
                foreach (string c in Cases)
                {
                    Results[c] = [];
                }
            }

            _process!.StandardInput.WriteLine("round");
            _process.StandardInput.Flush();
            string[] fields = ReadLine().Split('\t');
            for (int c = 0; c < Cases.Length; c++)
            {
                Results[Cases[c]].Add(double.Parse(fields[c + 1], CultureInfo.InvariantCulture));
            }
        }

        private string ReadLine() => _process!.StandardOutput.ReadLine()
            ?? throw new InvalidOperationException($"the '{Name}' process ended early (exit code {(_process.WaitForExit(5000) ? _process.ExitCode : -1)})");

        public void Stop()
        {
            if (_process is null)
            {
                return;
            }

            _process.StandardInput.Close();
            if (!_process.WaitForExit(10_000))
            {
                _process.Kill();
            }

            _process.Dispose();
        }
    }
}
