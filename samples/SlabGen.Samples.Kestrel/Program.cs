// Kestrel on SlabGen's buffers against Kestrel on its default pool, in one run. Without arguments the sample starts
// the same server twice per round as child processes (`serve --pool slab`, `serve --pool default`), in alternating
// order, and for each: reads the collections it ran at start-up, drives it with the sample's own load client (which
// checks every byte) and with wrk when wrk is on the PATH, then leaves it idle and reads its RSS 0, 10 and 30 s after the
// load. A request posts a body (16 KiB by default, so every request and response spans several buffers) and the server
// streams it back. It prints three tables: the own client's figures, wrk's, and memory.
//
//   dotnet run -c Release --project samples/SlabGen.Samples.Kestrel [-- --seconds 8 --clients 16 --size 16384 --rounds 4 --idle 30 --client own|wrk|both]
//   dotnet run -c Release --project samples/SlabGen.Samples.Kestrel -- serve --pool slab|default
using System.Globalization;

if (args.Length > 0 && args[0] == "serve")
{
    await Server.Run(args.Contains("default") ? "default" : "slab");
    return 0;
}

int seconds = Option("--seconds", 8);
int clients = Option("--clients", 16);
int size = Option("--size", 16 << 10);
int rounds = Option("--rounds", 2);
int idle = Option("--idle", 30);
string clientChoice = StringOption("--client", WrkClient.IsAvailable ? "both" : "own");
bool own = clientChoice is "own" or "both", wrk = clientChoice is "wrk" or "both";
if (wrk && !WrkClient.IsAvailable)
{
    Console.Error.WriteLine("--client wrk: wrk is not on the PATH (Debian: apt-get install wrk)");
    return 2;
}

Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{clients} connections on loopback, {size:N0}-byte bodies echoed, {seconds} s per client, server and round after 2 s of warm-up, {rounds} rounds in alternating order, clients: {clientChoice}{(wrk ? $" ({WrkClient.Version})" : "")}, {Environment.ProcessorCount} cores"));

// The client warms up over the run: the server measured second does better. Rounds alternate the order.
var results = new Dictionary<string, List<ServerRun>> { ["slab"] = [], ["default"] = [] };
for (int round = 0; round < rounds; round++)
{
    foreach (string pool in round % 2 == 0 ? (string[])["slab", "default"] : ["default", "slab"])
    {
        results[pool].Add(await ServerRun.Measure(pool, seconds, clients, size, own, wrk, idle));
    }
}

Console.Write(Report.Tables(results, own, wrk));
return 0;

int Option(string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

string StringOption(string name, string fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? args[at + 1] : fallback;
}
