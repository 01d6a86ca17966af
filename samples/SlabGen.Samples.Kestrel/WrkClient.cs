// wrk, the standard HTTP load generator (Debian's package, 4.1), as the second client: POSTs of the same body size
// through a Lua script whose done() prints the figures wrk's own report rounds away (p99.9, errors by kind).
using System.Diagnostics;
using System.Globalization;

/// <summary>What wrk measured on one server: throughput, latency percentiles in ms, failed requests (socket errors and non-2xx answers).</summary>
internal sealed record WrkResult(double RequestsPerSecond, double P50, double P99, double P999, double MaxMs, long Errors);

internal static class WrkClient
{
    private const string Script = """
        wrk.method = "POST"
        wrk.body = string.rep("x", tonumber(os.getenv("SLABGEN_WRK_SIZE")))
        wrk.headers["Content-Type"] = "application/octet-stream"
        done = function(summary, latency, requests)
          local e = summary.errors
          io.write(string.format("SLABGEN %d %d %d %d %d %d %d\n", summary.requests, summary.duration,
            latency:percentile(50), latency:percentile(99), latency:percentile(99.9), latency.max,
            e.connect + e.read + e.write + e.timeout + e.status))
        end
        """;

    /// <summary>Whether wrk is on the PATH.</summary>
    public static bool IsAvailable => Version is not null;

    /// <summary>wrk's version line, or null when it is not on the PATH.</summary>
    public static string? Version { get; } = ReadVersion();

    /// <summary>Runs wrk with <paramref name="connections"/> connections on 2 threads for <paramref name="seconds"/> against <paramref name="url"/>/echo.</summary>
    public static async Task<WrkResult> Measure(string url, int connections, int seconds, int size)
    {
        string script = Path.Combine(Path.GetTempPath(), $"slabgen-wrk-{Environment.ProcessId}.lua");
        await File.WriteAllTextAsync(script, Script);
        var start = new ProcessStartInfo("wrk", ["-t2", $"-c{connections}", $"-d{seconds}s", "-s", script, url + "/echo"]) { RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["SLABGEN_WRK_SIZE"] = size.ToString(CultureInfo.InvariantCulture);
        using Process wrk = Process.Start(start)!;
        string output = await wrk.StandardOutput.ReadToEndAsync();
        string errors = await wrk.StandardError.ReadToEndAsync();
        await wrk.WaitForExitAsync();
        File.Delete(script);
        string line = output.Split('\n').SingleOrDefault(static l => l.StartsWith("SLABGEN ", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"wrk gave no figures (exit {wrk.ExitCode}): {output}{errors}");
        long[] v = [.. line.Split(' ').Skip(1).Select(static x => long.Parse(x, CultureInfo.InvariantCulture))];
        return new WrkResult(v[0] / (v[1] / 1e6), v[2] / 1e3, v[3] / 1e3, v[4] / 1e3, v[5] / 1e3, v[6]);
    }

    private static string? ReadVersion()
    {
        try
        {
            using Process? wrk = Process.Start(new ProcessStartInfo("wrk", ["--version"]) { RedirectStandardOutput = true, RedirectStandardError = true });
            if (wrk is null)
            {
                return null;
            }

            string text = wrk.StandardOutput.ReadToEnd() + wrk.StandardError.ReadToEnd();
            wrk.WaitForExit();
            return text.Split('\n')[0].Split(" Copyright", 2)[0].Trim();
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null; // not on the PATH
        }
    }
}
