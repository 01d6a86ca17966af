// One process of the precise mode: warms every case up until the tiered JIT has compiled it at tier 1, sizes each so
// one run takes about the asked time, then answers the runner's "round" lines, each with one run of every case timed
// in the thread's CPU time (CLOCK_THREAD_CPUTIME_ID: time the thread ran, not time it waited for a core on this
// shared machine). Cases are run in a rotating order so none is always first after the runner's pause.
using System.Globalization;
using System.Runtime.InteropServices;

namespace SlabGen.Benchmarks.Precise;

internal static unsafe class PreciseChild
{
    /// <summary>The argument that makes the benchmark executable a child of the precise mode.</summary>
    public const string Switch = "--precise-child";

    /// <summary>The environment variable of the `--symbols` variant: read symbols after SlabGen loads, before the cases.</summary>
    public const string SymbolsReadVariable = "SLABGEN_BENCH_READ_SYMBOLS";

    /// <summary>Runs the cases whose name contains <paramref name="only"/> (all when null): one case alone, for a profiler.</summary>
    public static int Run(double milliseconds, string? only = null)
    {
        if (int.TryParse(Environment.GetEnvironmentVariable(PreciseLayout.Variable), CultureInfo.InvariantCulture, out int layout))
        {
            PreciseLayout.Shift(layout); // before anything else is allocated or compiled (`--layouts`)
        }

        if (Environment.GetEnvironmentVariable(SymbolsReadVariable) == "1")
        {
            // What a program that logs a stack trace does: SlabGen is loaded, then symbols are read before the first
            // allocation (the symbol reader's thread statics are initialised before the caches' are first used).
            _ = Sampling.IsEnabled;
            _ = new System.Diagnostics.StackTrace(fNeedFileInfo: true).ToString();
        }

        var cases = PreciseCases.All.Where(c => only is null || c.Name.Contains(only, StringComparison.Ordinal)).ToArray();
        var sizes = new long[cases.Length];
        for (int c = 0; c < cases.Length; c++)
        {
            sizes[c] = Calibrate(cases[c].Run, milliseconds);
        }

        // Tier 1 comes from a background compile after 30 calls and a short delay; call again past it, then size
        // again with the final code.
        for (int pass = 0; pass < 3; pass++)
        {
            for (int c = 0; c < cases.Length; c++)
            {
                for (int call = 0; call < 40; call++)
                {
                    cases[c].Run(Math.Max(1, sizes[c] / 100));
                }
            }

            Thread.Sleep(250);
        }

        for (int c = 0; c < cases.Length; c++)
        {
            sizes[c] = Calibrate(cases[c].Run, milliseconds);
        }

        Console.Out.WriteLine("ready\t" + string.Join('\t', cases.Select(c => c.Name + "|" + c.Operation)));
        Console.Out.Flush();
        int round = 0;
        while (Console.In.ReadLine() is string line && line == "round")
        {
            var ns = new double[cases.Length];
            for (int k = 0; k < cases.Length; k++)
            {
                int c = (k + round) % cases.Length;
                long n = Ops(cases[c].Operation, sizes[c]);
                long start = ThreadCpuNanoseconds();
                cases[c].Run(sizes[c]);
                ns[c] = (ThreadCpuNanoseconds() - start) / (double)n;
            }

            round++;
            Console.Out.WriteLine("round\t" + string.Join('\t', ns.Select(v => v.ToString("R", CultureInfo.InvariantCulture))));
            Console.Out.Flush();
        }

        return 0;
    }

    /// <summary>How many operations a run of <paramref name="size"/> does (batch cases run whole batches).</summary>
    private static long Ops(string operation, long size) => operation == "object" ? PreciseCases.Batches(size) * 1_000 : size;

    /// <summary>The n whose run takes about <paramref name="milliseconds"/> of thread CPU time.</summary>
    private static long Calibrate(Func<long, nint> run, double milliseconds)
    {
        long n = 1_000;
        while (true)
        {
            long start = ThreadCpuNanoseconds();
            run(n);
            long elapsed = ThreadCpuNanoseconds() - start;
            if (elapsed >= milliseconds * 1e6 / 4 || n >= 1L << 40)
            {
                return Math.Max(1, (long)(n * milliseconds * 1e6 / Math.Max(elapsed, 1)));
            }

            n *= 4;
        }
    }

    /// <summary>The calling thread's CPU time in nanoseconds.</summary>
    public static long ThreadCpuNanoseconds()
    {
        Timespec time;
        if (ClockGetTime(ThreadCpuClock, &time) != 0)
        {
            throw new InvalidOperationException("clock_gettime(CLOCK_THREAD_CPUTIME_ID) failed: the precise mode needs Linux's thread CPU clock.");
        }

        return (time.Seconds * 1_000_000_000L) + time.Nanoseconds;
    }

    private const int ThreadCpuClock = 3; // CLOCK_THREAD_CPUTIME_ID on Linux

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, Timespec* time);

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;
    }
}
