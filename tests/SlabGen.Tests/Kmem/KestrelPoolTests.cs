// Kestrel on SlabGen: AddSlabMemoryPool makes the sockets transport rent from pinned SlabMemoryPools (their caches named
// after the owner Kestrel gives, "kestrel"), and requests and responses larger than one buffer come through intact.
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace SlabGen.Tests.Kmem;

public sealed class KestrelPoolTests
{
    [Fact]
    public async Task Kestrel_takes_its_buffers_from_the_registered_allocator_and_echoes_bodies_intact()
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(options => options.Listen(IPAddress.Loopback, 0));
        builder.Services.AddSlabMemoryPool(16 << 20);
        await using WebApplication app = builder.Build();
        app.MapPost("/echo", static async (HttpContext context) =>
        {
            var body = new MemoryStream();
            await context.Request.Body.CopyToAsync(body);
            await context.Response.Body.WriteAsync(body.ToArray());
        });
        await app.StartAsync();
        string address = app.Services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.Single();

        using var client = new HttpClient();
        byte[] payload = [.. Enumerable.Range(0, 200_000).Select(static i => (byte)(i * 7))];
        for (int i = 0; i < 5; i++)
        {
            using HttpResponseMessage response = await client.PostAsync(address + "/echo", new ByteArrayContent(payload));
            Assert.Equal(payload, await response.Content.ReadAsByteArrayAsync());
        }

        SlabInfoEntry[] rows = [.. SlabInfo.Snapshot().Where(static e => e.Name.StartsWith("kestrel-kmalloc-", StringComparison.Ordinal))];
        Assert.Contains(rows, static e => e.TotalObjects > 0);         // the transport's buffers came from a pool the factory made
        await app.StopAsync();
    }
}
