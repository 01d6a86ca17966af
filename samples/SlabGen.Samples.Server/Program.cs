// A small TCP server on loopback whose per-connection and per-request state are [SlabCache] objects and whose
// buffers come from kmalloc, with a built-in load client. A request is a 4-byte length and a payload; the reply is
// the payload's 8-byte checksum. Handling a request is the hot path: an [InterruptContext] method that allocates
// only with GfpFlags.Atomic (the analyzers check it at compile time; InterruptContext.Enter checks it at run time).
// Socket I/O happens around it, outside interrupt context. The client reports requests per second and latency
// percentiles; the server prints its slabinfo rows on exit.
//
//   dotnet run -c Release --project samples/SlabGen.Samples.Server [-- --clients 4 --requests 20000 --seconds 10 --size 256]
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using SlabGen;

int clients = Option("--clients", 4);
int requestsPerClient = Option("--requests", 20_000);
int seconds = Option("--seconds", 10);
int payloadSize = Option("--size", 256);

using var server = new Server();
server.Start();
var latencies = new long[clients][];
var counts = new int[clients];
var deadline = Stopwatch.GetTimestamp() + (seconds * Stopwatch.Frequency);
var clock = Stopwatch.StartNew();
Thread[] threads = Enumerable.Range(0, clients).Select(c => new Thread(() =>
{
    latencies[c] = new long[requestsPerClient];
    counts[c] = LoadClient.Run(server.Port, payloadSize, latencies[c], deadline, seed: c);
})).ToArray();
Array.ForEach(threads, static t => t.Start());
Array.ForEach(threads, static t => t.Join());
clock.Stop();

long[] all = latencies.SelectMany((l, c) => l.Take(counts[c])).Order().ToArray();
double Micros(double p) => all.Length == 0 ? 0 : all[(int)Math.Min(all.Length - 1, p * all.Length)] * 1e6 / Stopwatch.Frequency;
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"{clients} clients, {all.Length:N0} requests of {payloadSize} bytes in {clock.Elapsed.TotalSeconds:F2} s: {all.Length / clock.Elapsed.TotalSeconds:N0} requests per second"));
Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
    $"latency µs: p50 {Micros(0.50):F1}  p90 {Micros(0.90):F1}  p99 {Micros(0.99):F1}  max {Micros(1.0):F1}"));
Console.WriteLine($"checksum mismatches: {LoadClient.Mismatches}, requests handled by the server: {server.Handled:N0}");
server.Stop();
Console.WriteLine();
Console.WriteLine(SlabInfo.ColumnHeader);
foreach (SlabInfoEntry row in SlabInfo.Snapshot().Where(static e => e.Name is "connection" or "request"
    || (e.Name.StartsWith("kmalloc-", StringComparison.Ordinal) && e.TotalObjects != 0)))
{
    Console.WriteLine(row);
}

return LoadClient.Mismatches == 0 && server.Handled == all.Length ? 0 : 1;

int Option(string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>One connection's state, a slab object for the connection's life.</summary>
[SlabCache(Name = "connection", Flags = SlabFlags.HwCacheAlign)]
internal partial struct Connection
{
    public long Id;
    public long Requests;
    public long BytesIn;

    public Connection(long id)
    {
        Id = id;
        Requests = 0;
        BytesIn = 0;
    }
}

/// <summary>One request's state, a slab object for the request's life.</summary>
[SlabCache(Name = "request")]
internal partial struct Request
{
    public long Connection;
    public long Sequence;
    public int Length;
    public ulong Checksum;

    public Request(long connection, long sequence, int length)
    {
        Connection = connection;
        Sequence = sequence;
        Length = length;
        Checksum = 0;
    }
}

/// <summary>Accepts connections and serves each on a thread of its own.</summary>
internal sealed unsafe class Server : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly List<Thread> _connections = [];
    private long _handled;
    private long _nextId;

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public long Handled => Interlocked.Read(ref _handled);

    /// <summary>Warms the caches the hot path uses with Kernel allocations (which may sleep) before serving.</summary>
    public void Start()
    {
        var warm = Enumerable.Range(0, 1024).Select(static i => Request.New(0, i, 0)).ToArray();
        Array.ForEach(warm, Request.Free);
        Kmem.Kfree(Kmem.Kmalloc(sizeof(ulong)));
        _listener.Start();
        new Thread(Accept) { IsBackground = true }.Start();
    }

    public void Stop()
    {
        _listener.Stop();
        lock (_connections)
        {
            _connections.ForEach(static t => t.Join());
        }
    }

    public void Dispose() => _listener.Dispose();

    private void Accept()
    {
        try
        {
            while (true)
            {
                Socket socket = _listener.AcceptSocket();
                var thread = new Thread(() => Serve(socket)) { IsBackground = true };
                lock (_connections)
                {
                    _connections.Add(thread);
                }

                thread.Start();
            }
        }
        catch (SocketException)
        {
            // the listener was stopped
        }
        catch (ObjectDisposedException)
        {
            // the listener was disposed
        }
    }

    /// <summary>The connection's I/O loop: may block, so not interrupt context.</summary>
    private void Serve(Socket socket)
    {
        SlabRef<Connection> connection = Connection.New(Interlocked.Increment(ref _nextId));
        byte* payload = (byte*)Kmem.Kmalloc(LoadClient.MaxPayload);
        Span<byte> header = stackalloc byte[8];
        try
        {
            while (socket.Receive(header[..4]) == 4)
            {
                int length = BitConverter.ToInt32(header);
                var body = new Span<byte>(payload, length);
                for (int read = 0; read < length;)
                {
                    read += socket.Receive(body[read..]);
                }

                ulong checksum;
                using (InterruptContext.Enter())
                {
                    checksum = Handle(connection, payload, length);
                }

                BitConverter.TryWriteBytes(header, checksum);
                socket.Send(header);
                Interlocked.Increment(ref _handled);
            }
        }
        catch (SocketException)
        {
            // the client went away
        }
        finally
        {
            socket.Dispose();
            Kmem.Kfree(payload);
            Connection.Free(connection);
        }
    }

    /// <summary>The hot path: no sleeping, so every allocation is Atomic; the analyzers hold it to that.</summary>
    [InterruptContext]
    private static ulong Handle(SlabRef<Connection> connection, byte* payload, int length)
    {
        ref Connection state = ref connection.Value;
        SlabRef<Request> request = Request.New(state.Id, state.Requests++, length, GfpFlags.Atomic);
        ulong* scratch = (ulong*)Kmem.Kmalloc(sizeof(ulong), GfpFlags.Atomic);
        *scratch = 14695981039346656037UL;
        for (int i = 0; i < length; i++)
        {
            *scratch = (*scratch ^ payload[i]) * 1099511628211UL;
        }

        request.Value.Checksum = *scratch;
        state.BytesIn += length;
        ulong checksum = request.Value.Checksum;
        Kmem.Kfree(scratch);
        Request.Free(request);
        return checksum;
    }
}

/// <summary>A client: sends requests one after another on one connection, checks each reply, times each.</summary>
internal static class LoadClient
{
    public const int MaxPayload = 64 * 1024;

    private static int s_mismatches;

    public static int Mismatches => Volatile.Read(ref s_mismatches);

    /// <summary>Sends up to <c>latencies.Length</c> requests before <paramref name="deadline"/>; returns how many.</summary>
    public static int Run(int port, int size, long[] latencies, long deadline, int seed)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        socket.Connect(IPAddress.Loopback, port);
        var random = new Random(seed);
        byte[] message = new byte[4 + Math.Min(size, MaxPayload)];
        byte[] reply = new byte[8];
        BitConverter.TryWriteBytes(message, message.Length - 4);
        int sent = 0;
        while (sent < latencies.Length && Stopwatch.GetTimestamp() < deadline)
        {
            random.NextBytes(message.AsSpan(4));
            long start = Stopwatch.GetTimestamp();
            socket.Send(message);
            for (int read = 0; read < reply.Length;)
            {
                read += socket.Receive(reply.AsSpan(read));
            }

            latencies[sent++] = Stopwatch.GetTimestamp() - start;
            if (BitConverter.ToUInt64(reply) != Fnv1a(message.AsSpan(4)))
            {
                Interlocked.Increment(ref s_mismatches);
            }
        }

        socket.Shutdown(SocketShutdown.Both);
        return sent;
    }

    private static ulong Fnv1a(ReadOnlySpan<byte> data)
    {
        ulong hash = 14695981039346656037UL;
        foreach (byte b in data)
        {
            hash = (hash ^ b) * 1099511628211UL;
        }

        return hash;
    }
}
