// One server process through one round: start-up collections, the own client's load, wrk's load, then idle RSS.
using System.Diagnostics;

/// <summary>What one server did in one round. The load figures are null for a client not run.</summary>
internal sealed record ServerRun(int[] StartStats, LoadResult? Own, WrkResult? Wrk, int[] AfterLoadStats, IReadOnlyList<(int Seconds, long RssMiB)> Idle)
{
    /// <summary>Collections of each generation alone the server ran before its first request (CollectionCount counts a generation and those above it).</summary>
    public (int Gen0, int Gen1, int Gen2) StartupCollections => (StartStats[0] - StartStats[1], StartStats[1] - StartStats[2], StartStats[2]);

    public static async Task<ServerRun> Measure(string pool, int seconds, int clients, int size, bool own, bool wrk, int idle)
    {
        using Process server = Process.Start(new ProcessStartInfo("dotnet", [typeof(ServerRun).Assembly.Location, "serve", "--pool", pool])
        {
            RedirectStandardOutput = true,
        })!;
        try
        {
            string url = (await server.StandardOutput.ReadLineAsync())!["listening ".Length..];
            using var client = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = clients }) { BaseAddress = new Uri(url) };
            int[] start = await Stats(client);
            byte[] body = new byte[size];
            new Random(1).NextBytes(body);
            await LoadClient.Drive(client, body, clients, TimeSpan.FromSeconds(2), null);
            LoadResult? ownResult = own ? await LoadClient.Measure(client, body, clients, seconds) : null;
            WrkResult? wrkResult = wrk ? await WrkClient.Measure(url, clients, seconds, size) : null;
            int[] afterLoad = await Stats(client);
            var idleRss = new List<(int, long)>();
            var clock = Stopwatch.StartNew();
            foreach (int at in (int[])[0, 10, 30])
            {
                if (at > idle)
                {
                    break;
                }

                TimeSpan wait = TimeSpan.FromSeconds(at) - clock.Elapsed;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                idleRss.Add((at, (await Stats(client))[3]));
            }

            await client.PostAsync("/quit", null);
            return new ServerRun(start, ownResult, wrkResult, afterLoad, idleRss);
        }
        finally
        {
            if (!server.WaitForExit(TimeSpan.FromSeconds(10)))
            {
                server.Kill(entireProcessTree: true);
            }
        }
    }

    /// <summary>The server's [gen0, gen1, gen2, RSS MiB], collections counted since the process started.</summary>
    internal static async Task<int[]> Stats(HttpClient client) => (await client.GetFromJsonAsync<int[]>("/stats"))!;
}
