// `--layouts K` of the precise mode: what sampling costs with the process's layout taken out. Two processes running the
// same machine code differ by up to 5-15% on this VM for some cases (the 4 KiB offsets of the per-thread blocks and
// objects, where the JIT placed a loop), and a variant that starts differently (sampling on maps its pool and starts a
// timer) lands on another layout every time: a fixed bias no number of rounds removes. So each layout i runs an off and
// an on process that both shift their layout by i before anything else (Shift: native, managed and code allocations of
// sizes that move what follows off its cache-line and page offsets), and the report takes on ÷ off per layout, then the
// geometric mean and the median over the layouts, as layout randomisation does (Stabilizer, Curtsinger and Berger 2013).
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen.Benchmarks.Precise;

internal static unsafe class PreciseLayout
{
    /// <summary>The environment variable that shifts a child's layout: the layout's number.</summary>
    public const string Variable = "SLABGEN_BENCH_LAYOUT";

    private static void* s_native;
    private static byte[]? s_managed;

    /// <summary>Shifts what the process allocates next by an amount that depends on <paramref name="layout"/>.</summary>
    public static void Shift(int layout)
    {
        s_native = NativeMemory.Alloc((nuint)(16 + (layout * 1360)));
        s_managed = new byte[layout * 408];
        MethodInfo[] pads = [.. typeof(PreciseLayout).GetMethods(BindingFlags.NonPublic | BindingFlags.Static).Where(static m => m.Name.StartsWith("Pad", StringComparison.Ordinal)).OrderBy(static m => m.Name)];
        for (int i = 0; i < layout % (pads.Length + 1); i++)
        {
            RuntimeHelpers.PrepareMethod(pads[i].MethodHandle);
        }
    }

    /// <summary>Prints the table of the <paramref name="layouts"/> layouts' off and sampling-on processes.</summary>
    public static void Print(Dictionary<string, Dictionary<string, List<double>>> results, string[] sampledCases, int layouts, TextWriter output)
    {
        output.WriteLine();
        output.WriteLine($"Sampling on (SLABGEN_SAMPLE={PreciseReport.SamplingRate}) ÷ off over {layouts} process layouts: per layout the median of the rounds' on ÷ off; then their geometric mean and median, and the spread of the off processes' medians across layouts (max ÷ min: what the layout alone moves):");
        output.WriteLine();
        output.WriteLine("| case | " + string.Join(" | ", Enumerable.Range(0, layouts).Select(i => $"layout {i}")) + " | geometric mean | median | off spread |");
        output.WriteLine("|---|" + string.Concat(Enumerable.Repeat("---:|", layouts + 3)));
        foreach (string c in sampledCases.Where(results[Off(0)].ContainsKey))
        {
            double[] ratios = [.. Enumerable.Range(0, layouts).Select(i => Median(results[On(i)][c].Zip(results[Off(i)][c], static (on, off) => on / off)))];
            double[] offs = [.. Enumerable.Range(0, layouts).Select(i => Median(results[Off(i)][c]))];
            double mean = Math.Exp(ratios.Average(Math.Log));
            output.WriteLine($"| {c} | " + string.Join(" | ", ratios.Select(static r => r.ToString("F3", CultureInfo.InvariantCulture))) +
                $" | {mean.ToString("F3", CultureInfo.InvariantCulture)} | {Median(ratios).ToString("F3", CultureInfo.InvariantCulture)} | {(offs.Max() / offs.Min()).ToString("F3", CultureInfo.InvariantCulture)} |");
        }
    }

    /// <summary>The off process of layout <paramref name="i"/>.</summary>
    public static string Off(int i) => $"off {i}";

    /// <summary>The sampling-on process of layout <paramref name="i"/>.</summary>
    public static string On(int i) => $"on {i}";

    private static double Median(IEnumerable<double> values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }

    // Methods of different sizes for Shift to compile: each moves where the JIT places the code compiled after it.
    private static int Pad1(int x) => (x * 31) ^ (x >> 3);

    private static long Pad2(long x)
    {
        long s = 0;
        for (int i = 0; i < 7; i++)
        {
            s += (x >> i) * (i + 1);
        }

        return s;
    }

    private static double Pad3(double x, double y) => Math.Sqrt((x * x) + (y * y)) / (1 + Math.Abs(x - y));

    private static string Pad4(int x) => x switch
    {
        0 => "zero",
        1 => "one",
        2 => "two",
        3 => "three",
        _ => x.ToString(CultureInfo.InvariantCulture),
    };

    private static int Pad5(ReadOnlySpan<int> values)
    {
        int best = int.MinValue;
        foreach (int v in values)
        {
            best = Math.Max(best, v ^ (v << 1));
        }

        return best;
    }
}
