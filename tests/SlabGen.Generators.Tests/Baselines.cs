// Golden files of generated source, in the System.Text.Json layout: Baselines/<Test>/<hint>.txt. A test fails
// on any difference and prints it; SLABGEN_UPDATE_BASELINES=1 rewrites the files instead (then review the diff).
using System.Runtime.CompilerServices;

namespace SlabGen.Generators.Tests;

internal static class Baselines
{
    public static bool Updating => Environment.GetEnvironmentVariable("SLABGEN_UPDATE_BASELINES") == "1";

    public static void Match(string test, string hintName, string actual, [CallerFilePath] string callerPath = "")
    {
        string path = Path.Combine(Path.GetDirectoryName(callerPath)!, "Baselines", test, hintName + ".txt");
        if (Updating)
        {
            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.WriteAllText(path, actual);
            return;
        }

        Assert.True(File.Exists(path), $"No baseline {path}; run the tests with SLABGEN_UPDATE_BASELINES=1 to write it.");
        string expected = File.ReadAllText(path).ReplaceLineEndings("\n");
        if (expected != actual)
        {
            Assert.Fail($"Generated {hintName} differs from {path} (SLABGEN_UPDATE_BASELINES=1 rewrites it):{Environment.NewLine}{FirstDifference(expected, actual)}");
        }
    }

    private static string FirstDifference(string expected, string actual)
    {
        string[] e = expected.Split('\n');
        string[] a = actual.Split('\n');
        for (int i = 0; i < Math.Max(e.Length, a.Length); i++)
        {
            string left = i < e.Length ? e[i] : "<end>";
            string right = i < a.Length ? a[i] : "<end>";
            if (left != right)
            {
                return $"line {i + 1}:{Environment.NewLine}- {left}{Environment.NewLine}+ {right}";
            }
        }

        return "(same lines)";
    }
}
