// The sample's own load client: HttpClient request loops for a bounded time, every echoed byte checked.
using System.Diagnostics;

/// <summary>What the own client measured on one server.</summary>
internal sealed record LoadResult(double RequestsPerSecond, double P50, double P99, double P999, int Gen0, int Gen1, int Gen2, long RssMiB, long Errors);

internal static class LoadClient
{
    /// <summary>Drives the server for <paramref name="seconds"/> and reads its collections and RSS over that time.</summary>
    public static async Task<LoadResult> Measure(HttpClient client, byte[] body, int clients, int seconds)
    {
        int[] before = await ServerRun.Stats(client);
        var latencies = new List<double>[clients];
        var clock = Stopwatch.StartNew();
        long errors = await Drive(client, body, clients, TimeSpan.FromSeconds(seconds), latencies);
        double elapsed = clock.Elapsed.TotalSeconds;
        int[] after = await ServerRun.Stats(client);
        double[] all = [.. latencies.SelectMany(static l => l).Order()];
        return new LoadResult(all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99), Percentile(all, 0.999),
            after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3], errors);
    }

    /// <summary>Runs <paramref name="clients"/> request loops until <paramref name="duration"/> passed; returns the failed requests.</summary>
    public static async Task<long> Drive(HttpClient client, byte[] body, int clients, TimeSpan duration, List<double>[]? latencies)
    {
        long errors = 0;
        long end = Stopwatch.GetTimestamp() + (long)(duration.TotalSeconds * Stopwatch.Frequency);
        await Task.WhenAll(Enumerable.Range(0, clients).Select(async c =>
        {
            var mine = new List<double>(100_000);
            if (latencies is not null)
            {
                latencies[c] = mine;
            }

            while (Stopwatch.GetTimestamp() < end)
            {
                long start = Stopwatch.GetTimestamp();
                try
                {
                    using HttpResponseMessage response = await client.PostAsync("/echo", new ByteArrayContent(body));
                    byte[] echoed = await response.Content.ReadAsByteArrayAsync();
                    if (!response.IsSuccessStatusCode || !echoed.AsSpan().SequenceEqual(body))
                    {
                        Interlocked.Increment(ref errors);
                    }
                }
                catch (HttpRequestException)
                {
                    Interlocked.Increment(ref errors);
                }

                mine.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
        }));
        return errors;
    }

    private static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[(int)Math.Min(sorted.Length - 1, p * sorted.Length)];
}
