using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.DependencyInjection.Extensions;
using SlabGen;
using SlabGen.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registration of SlabGen's memory pools with ASP.NET Core.</summary>
public static class SlabGenServiceCollectionExtensions
{
    /// <summary>
    /// Makes the ASP.NET Core servers (Kestrel's sockets transport among them) take their buffers from pinned
    /// <see cref="SlabMemoryPool"/>s: registers a <see cref="SlabMemoryPoolFactory"/> as the
    /// <see cref="IMemoryPoolFactory{T}"/> of bytes, in place of the default pinned-block pools.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="maxBytesPerPool">The budget of each pool a server asks for: a rent beyond it fails that connection.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytesPerPool"/> is outside 8 MiB..1 GiB.</exception>
    public static IServiceCollection AddSlabMemoryPool(this IServiceCollection services, int maxBytesPerPool = SlabMemoryPoolFactory.DefaultMaxBytesPerPool)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.Replace(ServiceDescriptor.Singleton<IMemoryPoolFactory<byte>>(new SlabMemoryPoolFactory(maxBytesPerPool)));
        return services;
    }
}
