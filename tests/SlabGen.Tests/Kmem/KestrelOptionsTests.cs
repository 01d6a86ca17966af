// The server package as a server programmer configures and watches it: options bound from "SlabGen:MemoryPool" (and
// refused with the key named), a log line per pool Kestrel makes and per refused rent, one pool per I/O queue, and a
// request that finds its pool exhausted answered 503 with Retry-After.
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SlabGen.AspNetCore;

namespace SlabGen.Tests.Kmem;

public sealed class KestrelOptionsTests
{
    [Fact]
    public void Options_are_bound_from_the_SlabGen_MemoryPool_section_and_code_sets_them_over_it()
    {
        var settings = new Dictionary<string, string?>
        {
            ["SlabGen:MemoryPool:MaxBytesPerPool"] = "16777216",
            ["SlabGen:MemoryPool:RetryAfterSeconds"] = "5",
            ["SlabGen:MemoryPool:RespondServiceUnavailable"] = "false",
            ["SlabGen:MemoryPool:MinFreeBytes"] = "65536",
        };

        using ServiceProvider bound = Provider(settings, static services => services.AddSlabMemoryPool());
        SlabMemoryPoolOptions options = bound.GetRequiredService<IOptions<SlabMemoryPoolOptions>>().Value;
        Assert.Equal(16 << 20, bound.GetRequiredService<SlabMemoryPoolFactory>().MaxBytesPerPool);
        Assert.Equal(5, options.RetryAfterSeconds);
        Assert.False(options.RespondServiceUnavailable);
        Assert.Equal(65536, options.MinFreeBytes);
        Assert.Same(bound.GetRequiredService<SlabMemoryPoolFactory>(), bound.GetRequiredService<Microsoft.AspNetCore.Connections.IMemoryPoolFactory<byte>>());

        using ServiceProvider overridden = Provider(settings, static services => services.AddSlabMemoryPool(32 << 20));
        Assert.Equal(32 << 20, overridden.GetRequiredService<SlabMemoryPoolFactory>().MaxBytesPerPool);
        Assert.Equal(5, overridden.GetRequiredService<IOptions<SlabMemoryPoolOptions>>().Value.RetryAfterSeconds);

        using ServiceProvider defaults = Provider(new Dictionary<string, string?>(), static services => services.AddSlabMemoryPool());
        Assert.Equal(SlabMemoryPoolFactory.DefaultMaxBytesPerPool, defaults.GetRequiredService<SlabMemoryPoolFactory>().MaxBytesPerPool);
        Assert.True(defaults.GetRequiredService<IOptions<SlabMemoryPoolOptions>>().Value.RespondServiceUnavailable);
    }

    [Theory]
    [InlineData("MaxBytesPerPool", "4096", "SlabGen:MemoryPool:MaxBytesPerPool is 4,096: it must be 8,388,608 (8 MiB) to 1,073,741,824 (1 GiB).")]
    [InlineData("MaxBytesPerPool", "lots", "SlabGen:MemoryPool:MaxBytesPerPool is 'lots': it must be a whole number.")]
    [InlineData("RetryAfterSeconds", "-1", "SlabGen:MemoryPool:RetryAfterSeconds is -1: it must be 0 to 3,600.")]
    [InlineData("RespondServiceUnavailable", "yes", "SlabGen:MemoryPool:RespondServiceUnavailable is 'yes': it must be true or false.")]
    [InlineData("MinFreeBytes", "-5", "SlabGen:MemoryPool:MinFreeBytes is -5: it must be 0 to 1,073,741,824 (1 GiB).")]
    [InlineData("MaxBytes", "1", "SlabGen:MemoryPool:MaxBytes is not an option of the SlabGen memory pool")]
    public void A_bad_value_is_refused_with_its_key_and_a_good_configuration_still_works(string key, string value, string message)
    {
        using ServiceProvider bad = Provider(new Dictionary<string, string?> { ["SlabGen:MemoryPool:" + key] = value }, static services => services.AddSlabMemoryPool());
        Exception error = Assert.ThrowsAny<Exception>(() => bad.GetRequiredService<SlabMemoryPoolFactory>());
        Assert.True(error is OptionsValidationException or InvalidOperationException, error.GetType().Name);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);

        using ServiceProvider good = Provider(new Dictionary<string, string?> { ["SlabGen:MemoryPool:MaxBytesPerPool"] = "8388608" }, static services => services.AddSlabMemoryPool());
        var pool = (SlabMemoryPool)good.GetRequiredService<SlabMemoryPoolFactory>().Create();
        using (System.Buffers.IMemoryOwner<byte> buffer = pool.Rent())
        {
            Assert.Equal(4096, buffer.Memory.Length);
        }

        pool.Dispose();
        Assert.Throws<ArgumentOutOfRangeException>(() => new ServiceCollection().AddSlabMemoryPool(4096));
    }

    [Fact]
    public async Task Kestrel_makes_a_logged_pool_per_IO_queue_and_a_pool_exhausted_while_receiving_recovers_when_the_connection_goes()
    {
        var log = new ConcurrentQueue<(LogLevel Level, string Category, string Message)>();
        await using WebApplication app = await StartServer(log, static options => options.MaxBytesPerPool = 8 << 20, ioQueues: null);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        SlabMemoryPoolFactory factory = app.Services.GetRequiredService<SlabMemoryPoolFactory>();

        // docs/server.md: one pool per I/O queue of the sockets transport, Math.Min(cores, 16) of them.
        Assert.Equal(Math.Min(Environment.ProcessorCount, 16), factory.Pools.Count);
        string[] created = [.. log.Where(static l => l.Category == typeof(SlabMemoryPoolFactory).FullName && l.Message.StartsWith("SlabGen memory pool ", StringComparison.Ordinal)).Select(static l => l.Message)];
        Assert.Equal(factory.Pools.Count, created.Length);
        Assert.Contains($"for 'kestrel': budget 8388608 bytes as configured, {factory.Pools[0].CapacityBytes} bytes as its whole 4 MiB sections hold", created[0], StringComparison.Ordinal);
        Assert.Equal(8 << 20, factory.Pools[0].MaxBytes);
        Assert.True(factory.Pools[0].CapacityBytes > 8 << 20);
        // One pinned array for all of them (one large allocation, not one per pool).
        byte[][] arrays = [.. factory.Pools.Select(static p => { using var b = p.Rent(); Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray<byte>(b.Memory, out ArraySegment<byte> s)); return s.Array!; })];
        Assert.All(arrays, a => Assert.Same(arrays[0], a));

        // A body the handler keeps whole, larger than the pool: the transport's receive is refused, Kestrel ends the
        // connection (no answer can be promised), the refusal is counted and logged, and the pool comes back whole.
        string answer = await PostWithoutReadingTheAnswer(address, "/hold", 20 << 20);
        Assert.DoesNotContain("HTTP/1.1 200", answer, StringComparison.Ordinal);
        Assert.Contains(factory.Pools, static p => p.RentFailures > 0);
        Assert.Contains(log, static l => l.Level == LogLevel.Warning && l.Message.Contains("refused a rent of 4096 bytes", StringComparison.Ordinal));
        await WaitUntil(() => factory.Pools.All(static p => p.RentedBytes < 1 << 20));
        using var client = new HttpClient();
        using HttpResponseMessage ok = await client.PostAsync(new Uri(address, "/hold"), new ByteArrayContent(new byte[100_000]));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_request_arriving_while_its_pool_runs_low_is_answered_503_and_one_after_it_recovers_is_served()
    {
        var log = new ConcurrentQueue<(LogLevel Level, string Category, string Message)>();
        await using WebApplication app = await StartServer(log, static options =>
        {
            options.MaxBytesPerPool = 8 << 20;
            options.MinFreeBytes = 4 << 20;
            options.RetryAfterSeconds = 7;
        }, ioQueues: 1);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());
        SlabMemoryPool pool = Assert.Single(app.Services.GetRequiredService<SlabMemoryPoolFactory>().Pools);

        // One connection holds 9 MB of its body in the pool (12.4 MB), leaving less than the 4 MiB a request needs.
        using var holder = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await holder.ConnectAsync(address.Host, address.Port);
        await using (var stream = new NetworkStream(holder, ownsSocket: false))
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST /hold HTTP/1.1\r\nHost: test\r\nContent-Length: {20 << 20}\r\n\r\n"));
            byte[] chunk = new byte[64 << 10];
            for (int sent = 0; sent < 9 << 20; sent += chunk.Length)
            {
                await stream.WriteAsync(chunk);
            }

            await WaitUntil(() => pool.RentedBytes >= 8 << 20);
            using var client = new HttpClient();
            using HttpResponseMessage shed = await client.PostAsync(new Uri(address, "/hold"), new ByteArrayContent(new byte[1000]));
            Assert.Equal(HttpStatusCode.ServiceUnavailable, shed.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(7), shed.Headers.RetryAfter?.Delta);
            Assert.True(shed.Headers.ConnectionClose);
            Assert.Contains(log, static l => l.Level == LogLevel.Warning && l.Message.StartsWith("POST /hold answered 503: the 'kestrel' pool of its connection has ", StringComparison.Ordinal)
                && l.Message.EndsWith("bytes free, below the 4194304 a request needs (SlabGen:MemoryPool:MinFreeBytes)", StringComparison.Ordinal));
        }

        holder.Close();
        await WaitUntil(() => pool.RentedBytes < 1 << 20);
        using var after = new HttpClient();
        using HttpResponseMessage ok = await after.PostAsync(new Uri(address, "/hold"), new ByteArrayContent(new byte[100_000]));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public async Task A_handler_whose_rent_is_refused_before_its_answer_started_gets_503_instead_of_500()
    {
        var log = new ConcurrentQueue<(LogLevel Level, string Category, string Message)>();
        await using WebApplication app = await StartServer(log, static options => options.MaxBytesPerPool = 8 << 20, ioQueues: 1);
        var address = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single());

        using var client = new HttpClient();
        using HttpResponseMessage greedy = await client.GetAsync(new Uri(address, "/greedy"));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, greedy.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), greedy.Headers.RetryAfter?.Delta);
        Assert.Contains(log, static l => l.Level == LogLevel.Warning && l.Message.StartsWith("GET /greedy answered 503: SlabMemoryPool 'kestrel' could not rent 4,096 bytes", StringComparison.Ordinal)
            && l.Message.Contains("(configured 8,388,608 bytes, rounded up to 3 sections of 4 MiB", StringComparison.Ordinal));

        using HttpResponseMessage ok = await client.PostAsync(new Uri(address, "/hold"), new ByteArrayContent(new byte[100_000]));
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        await app.StopAsync();
    }

    [Fact]
    public void A_tick_trims_the_pools_that_served_no_rent_since_the_last_and_leaves_the_others()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // the residency check reads mincore
        }

        using var factory = new SlabMemoryPoolFactory(Options.Create(new SlabMemoryPoolOptions { MaxBytesPerPool = 8 << 20, TrimAfterIdleSeconds = 3600 }),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<SlabMemoryPoolFactory>.Instance);
        var idle = (SlabMemoryPool)factory.Create(new Microsoft.AspNetCore.Connections.MemoryPoolOptions { Owner = "trim-idle" });
        var busy = (SlabMemoryPool)factory.Create(new Microsoft.AspNetCore.Connections.MemoryPoolOptions { Owner = "trim-busy" });
        (byte[] array, int[] idlePages) = Residency.Burst(idle, 2000);
        (byte[] busyArray, int[] busyPages) = Residency.Burst(busy, 2000);
        Assert.Same(array, busyArray); // one array for both pools

        factory.TrimIdlePools(); // the first tick only notes each pool's rents
        Assert.Equal(2000L * 4096, Residency.ResidentBytes(array, idlePages));
        busy.Rent().Dispose();
        factory.TrimIdlePools(); // the idle pool served nothing since: trimmed; the busy one rented: left alone

        Assert.True(Residency.ResidentBytes(array, idlePages) < 1L << 20, "the idle pool's pages stayed resident");
        Assert.Equal(2000L * 4096, Residency.ResidentBytes(array, busyPages));
        idle.Dispose();
        busy.Dispose();
    }

    [Fact]
    public async Task The_factory_s_timer_trims_an_idle_pool()
    {
        if (!OperatingSystem.IsLinux())
        {
            return;
        }

        using var factory = new SlabMemoryPoolFactory(Options.Create(new SlabMemoryPoolOptions { MaxBytesPerPool = 8 << 20, TrimAfterIdleSeconds = 1 }),
            Microsoft.Extensions.Logging.Abstractions.NullLogger<SlabMemoryPoolFactory>.Instance);
        var pool = (SlabMemoryPool)factory.Create(new Microsoft.AspNetCore.Connections.MemoryPoolOptions { Owner = "trim-timer" });
        (byte[] array, int[] pages) = Residency.Burst(pool, 2000);
        await WaitUntil(() => Residency.ResidentBytes(array, pages) < 1L << 20);
        pool.Dispose();
    }

    /// <summary>
    /// Kestrel on loopback with SlabGen's pools set by <paramref name="configure"/>: <c>/hold</c> keeps its whole body
    /// in the pool until it ends, <c>/greedy</c> rents from its connection's pool until refused (then gives it all back).
    /// </summary>
    private static async Task<WebApplication> StartServer(ConcurrentQueue<(LogLevel, string, string)> log, Action<SlabMemoryPoolOptions> configure, int? ioQueues)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ListLoggerProvider(log));
        builder.WebHost.UseKestrel(static options =>
        {
            options.Listen(IPAddress.Loopback, 0);
            options.Limits.MaxRequestBufferSize = null; // the transport buffers the whole body: one request can fill a pool
            options.Limits.MaxRequestBodySize = null;
        });
        if (ioQueues is int queues)
        {
            builder.WebHost.UseSockets(sockets => sockets.IOQueueCount = queues);
        }

        builder.Services.AddSlabMemoryPool(configure);
        WebApplication app = builder.Build();
        app.MapPost("/hold", static async (HttpContext context) =>
        {
            while (true)
            {
                ReadResult read = await context.Request.BodyReader.ReadAsync();
                context.Request.BodyReader.AdvanceTo(read.Buffer.Start, read.Buffer.End); // keep every byte
                if (read.IsCompleted)
                {
                    break;
                }
            }
        });
        app.MapGet("/greedy", static (HttpContext context) =>
        {
            var pool = context.Features.Get<Microsoft.AspNetCore.Connections.Features.IMemoryPoolFeature>()!.MemoryPool;
            var rented = new List<System.Buffers.IMemoryOwner<byte>>();
            try
            {
                while (true)
                {
                    rented.Add(pool.Rent(4096));
                }
            }
            finally
            {
                rented.ForEach(static r => r.Dispose());
            }
        });
        await app.StartAsync();
        return app;
    }

    /// <summary>Sends a POST of <paramref name="bodyBytes"/> over a raw socket while reading, and returns what came back before the connection ended.</summary>
    private static async Task<string> PostWithoutReadingTheAnswer(Uri address, string path, int bodyBytes)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        await socket.ConnectAsync(address.Host, address.Port);
        await using var stream = new NetworkStream(socket, ownsSocket: false);
        Task<string> answer = ReadAnswer(stream);
        try
        {
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"POST {path} HTTP/1.1\r\nHost: test\r\nContent-Length: {bodyBytes}\r\n\r\n"));
            byte[] chunk = new byte[64 << 10];
            for (int sent = 0; sent < bodyBytes && !answer.IsCompleted; sent += chunk.Length)
            {
                await stream.WriteAsync(chunk);
            }
        }
        catch (IOException)
        {
            // the server ended the connection: what it answered, if anything, is what matters
        }

        socket.Shutdown(SocketShutdown.Send);
        return await answer;
    }

    private static async Task<string> ReadAnswer(NetworkStream stream)
    {
        var text = new StringBuilder();
        byte[] buffer = new byte[4096];
        try
        {
            int read;
            while (!text.ToString().Contains("\r\n\r\n", StringComparison.Ordinal) && (read = await stream.ReadAsync(buffer)) > 0)
            {
                text.Append(Encoding.ASCII.GetString(buffer, 0, read));
            }
        }
        catch (IOException e)
        {
            text.Append("[read: ").Append(e.Message).Append(']'); // reset after (or instead of) the answer
        }

        return text.ToString();
    }

    private static async Task WaitUntil(Func<bool> condition)
    {
        for (int i = 0; i < 1000 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        Assert.True(condition());
    }

    private static ServiceProvider Provider(Dictionary<string, string?> settings, Action<IServiceCollection> register)
    {
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());
        services.AddLogging();
        register(services);
        return services.BuildServiceProvider();
    }

    private sealed class ListLoggerProvider(ConcurrentQueue<(LogLevel, string, string)> log) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => new ListLogger(log, categoryName);

        public void Dispose()
        {
        }
    }

    private sealed class ListLogger(ConcurrentQueue<(LogLevel, string, string)> log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log.Enqueue((logLevel, category, formatter(state, exception)));
    }
}
