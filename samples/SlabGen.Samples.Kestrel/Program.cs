// Kestrel on SlabGen's buffers against Kestrel on its default pool, in one run. Without arguments the sample starts
// the same server twice as child processes (`serve --pool slab`, `serve --pool default`), drives each with the same
// load client on loopback for a bounded time, and prints requests per second, latency percentiles, and the server's
// GC collections and RSS during the load. A request posts a body (16 KiB by default, so every request and response
// spans several buffers) and the server streams it back; the client checks every byte.
//
//   dotnet run -c Release --project samples/SlabGen.Samples.Kestrel [-- --seconds 10 --clients 32 --size 16384 --rounds 2]
//   dotnet run -c Release --project samples/SlabGen.Samples.Kestrel -- serve --pool slab|default
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

if (args.Length > 0 && args[0] == "serve")
{
    await Server.Run(args.Contains("default") ? "default" : "slab");
    return 0;
}

int seconds = Option("--seconds", 10);
int clients = Option("--clients", 32);
int size = Option("--size", 16 << 10);
int rounds = Option("--rounds", 2);
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{clients} clients on loopback, {size:N0}-byte bodies echoed, {seconds} s per server and round after 2 s of warm-up, {rounds} rounds in alternating order, {Environment.ProcessorCount} cores"));

// The client warms up over the run: the server measured second does better. Rounds alternate the order, and each row
// is the mean over the rounds (GCs summed, RSS the largest).
var results = new Dictionary<string, List<LoadResult>> { ["slab"] = [], ["default"] = [] };
for (int round = 0; round < rounds; round++)
{
    foreach (string pool in round % 2 == 0 ? (string[])["slab", "default"] : ["default", "slab"])
    {
        results[pool].Add(await LoadClient.Measure(pool, seconds, clients, size));
    }
}

Console.WriteLine();
Console.WriteLine("| pool | requests/s | p50 ms | p99 ms | server GCs (gen0/1/2) | server RSS MiB | errors |");
Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
foreach ((string pool, List<LoadResult> runs) in results)
{
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {(pool == "slab" ? "SlabGen (AddSlabMemoryPool)" : "Kestrel default")} | {runs.Average(static r => r.RequestsPerSecond):N0} | {runs.Average(static r => r.P50):F2} | {runs.Average(static r => r.P99):F2} | " +
        $"{runs.Sum(static r => r.Gen0)}/{runs.Sum(static r => r.Gen1)}/{runs.Sum(static r => r.Gen2)} | {runs.Max(static r => r.RssMiB):N0} | {runs.Sum(static r => r.Errors)} |"));
}

return 0;

int Option(string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>What one server did under the load.</summary>
internal sealed record LoadResult(double RequestsPerSecond, double P50, double P99, int Gen0, int Gen1, int Gen2, long RssMiB, long Errors);

/// <summary>The server: an echo endpoint, and the process's GC counts and RSS.</summary>
internal static class Server
{
    public static async Task Run(string pool)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        if (pool == "slab")
        {
            builder.Services.AddSlabMemoryPool();
        }

        WebApplication app = builder.Build();
        app.MapPost("/echo", static async (HttpContext context) =>
        {
            // Stream the body back through the response's pipe: every buffer is the server's pool's.
            var reader = context.Request.BodyReader;
            var writer = context.Response.BodyWriter;
            context.Response.ContentLength = context.Request.ContentLength;
            while (true)
            {
                var read = await reader.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in read.Buffer)
                {
                    await writer.WriteAsync(segment);
                }

                reader.AdvanceTo(read.Buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }
        });
        app.MapGet("/stats", static () => new[] { GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2), (int)(Environment.WorkingSet >> 20) });
        app.MapPost("/quit", (IHostApplicationLifetime lifetime) => lifetime.StopApplication());
        await app.StartAsync();
        Console.WriteLine("listening " + app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        await app.WaitForShutdownAsync();
    }
}

/// <summary>The load client: starts a server process, drives it for a bounded time, reads its stats, stops it.</summary>
internal static class LoadClient
{
    public static async Task<LoadResult> Measure(string pool, int seconds, int clients, int size)
    {
        using Process server = Process.Start(new ProcessStartInfo("dotnet", [typeof(LoadClient).Assembly.Location, "serve", "--pool", pool])
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            string url = (await server.StandardOutput.ReadLineAsync())!["listening ".Length..];
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { BaseAddress = new Uri(url) };
            byte[] body = new byte[size];
            new Random(1).NextBytes(body);
            await Drive(client, body, clients, TimeSpan.FromSeconds(2), null);
            int[] before = (await client.GetFromJsonAsync<int[]>("/stats"))!;
            var latencies = new List<double>[clients];
            var clock = Stopwatch.StartNew();
            long errors = await Drive(client, body, clients, TimeSpan.FromSeconds(seconds), latencies);
            double elapsed = clock.Elapsed.TotalSeconds;
            int[] after = (await client.GetFromJsonAsync<int[]>("/stats"))!;
            double[] all = [.. latencies.SelectMany(static l => l).Order()];
            await client.PostAsync("/quit", null);
            return new LoadResult(all.Length / elapsed, Percentile(all, 0.50), Percentile(all, 0.99),
                after[0] - before[0], after[1] - before[1], after[2] - before[2], after[3], errors);
        }
        finally
        {
            if (!server.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>Runs <paramref name="clients"/> request loops until <paramref name="duration"/> passed; returns the failed requests.</summary>
    private static async Task<long> Drive(HttpClient client, byte[] body, int clients, TimeSpan duration, List<double>[]? latencies)
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
