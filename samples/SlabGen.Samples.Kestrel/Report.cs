// The sample's tables: the own client's figures, wrk's, and memory (start-up collections, RSS after the load).
using System.Globalization;
using System.Text;

internal static class Report
{
    public static string Tables(Dictionary<string, List<ServerRun>> results, bool own, bool wrk)
    {
        var text = new StringBuilder();
        CultureInfo c = CultureInfo.InvariantCulture;
        if (own)
        {
            text.Append("\nOwn client (HttpClient, every byte checked), means over the rounds:\n\n")
                .Append("| pool | requests/s | p50 ms | p99 ms | p99.9 ms | server GCs under load (0/1/2) | server RSS MiB | errors |\n")
                .Append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
            foreach ((string pool, List<ServerRun> runs) in results)
            {
                LoadResult[] r = [.. runs.Select(static x => x.Own!)];
                text.Append(string.Create(c, $"| {Name(pool)} | {r.Average(static x => x.RequestsPerSecond):N0} | {r.Average(static x => x.P50):F2} | {r.Average(static x => x.P99):F2} | {r.Average(static x => x.P999):F2} | " +
                    $"{r.Sum(static x => x.Gen0)}/{r.Sum(static x => x.Gen1)}/{r.Sum(static x => x.Gen2)} | {r.Max(static x => x.RssMiB):N0} | {r.Sum(static x => x.Errors)} |\n"));
            }
        }

        if (wrk)
        {
            text.Append("\nwrk, per round (requests/s; latencies in ms):\n\n")
                .Append("| pool | requests/s per round | mean requests/s | p50 ms | p99 ms | p99.9 ms | max ms | errors |\n")
                .Append("|---|---|---:|---:|---:|---:|---:|---:|\n");
            foreach ((string pool, List<ServerRun> runs) in results)
            {
                WrkResult[] r = [.. runs.Select(static x => x.Wrk!)];
                text.Append(string.Create(c, $"| {Name(pool)} | {string.Join(" / ", r.Select(x => x.RequestsPerSecond.ToString("N0", c)))} | {r.Average(static x => x.RequestsPerSecond):N0} | " +
                    $"{r.Average(static x => x.P50):F2} | {r.Average(static x => x.P99):F2} | {r.Average(static x => x.P999):F2} | {r.Max(static x => x.MaxMs):F1} | {r.Sum(static x => x.Errors)} |\n"));
            }
        }

        text.Append("\nMemory (collections before the first request, summed over the rounds; RSS the largest over the rounds):\n\n")
            .Append("| pool | start-up GCs (0/1/2) | RSS MiB at start |");
        int[] marks = [.. results.Values.First()[0].Idle.Select(static i => i.Seconds)];
        foreach (int at in marks)
        {
            text.Append(string.Create(c, $" RSS MiB {at} s after the load |"));
        }

        text.Append('\n').Append("|---|---:|---:|").Append(string.Concat(marks.Select(static _ => "---:|"))).Append('\n');
        foreach ((string pool, List<ServerRun> runs) in results)
        {
            text.Append(string.Create(c, $"| {Name(pool)} | {runs.Sum(static r => r.StartupCollections.Gen0)}/{runs.Sum(static r => r.StartupCollections.Gen1)}/{runs.Sum(static r => r.StartupCollections.Gen2)} | {runs.Max(static r => r.StartStats[3])} |"));
            for (int i = 0; i < marks.Length; i++)
            {
                text.Append(string.Create(c, $" {runs.Max(r => r.Idle[i].RssMiB)} |"));
            }

            text.Append('\n');
        }

        return text.ToString();
    }

    private static string Name(string pool) => pool == "slab" ? "SlabGen (AddSlabMemoryPool)" : "Kestrel default";
}
