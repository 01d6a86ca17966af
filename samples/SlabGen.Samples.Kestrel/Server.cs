// The server child process: an echo endpoint, /stats with the process's GC counts and RSS, /quit.
using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

/// <summary>The server: Kestrel on loopback, on SlabGen's pools (<c>slab</c>) or its default ones.</summary>
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
