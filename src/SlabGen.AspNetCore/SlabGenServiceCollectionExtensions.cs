using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using SlabGen;
using SlabGen.AspNetCore;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registration of SlabGen's memory pools with ASP.NET Core.</summary>
public static class SlabGenServiceCollectionExtensions
{
    /// <summary>
    /// Makes the ASP.NET Core servers (Kestrel's sockets transport among them) take their buffers from pinned
    /// <see cref="SlabMemoryPool"/>s: registers a <see cref="SlabMemoryPoolFactory"/> as the
    /// <see cref="IMemoryPoolFactory{T}"/> of bytes, in place of the default pinned-block pools, with its options bound
    /// from the configuration section <c>SlabGen:MemoryPool</c> (<see cref="SlabMemoryPoolOptions"/>), and a middleware
    /// that answers 503 to a request that found its pool exhausted.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    /// <remarks>
    /// Options are checked when the host starts: a budget outside 8 MiB..1 GiB, or a value that is not a number, fails
    /// the start with an <see cref="OptionsValidationException"/> (or <see cref="InvalidOperationException"/>) naming the key.
    /// </remarks>
    public static IServiceCollection AddSlabMemoryPool(this IServiceCollection services) => AddSlabMemoryPool(services, static _ => { });

    /// <summary>
    /// As <see cref="AddSlabMemoryPool(IServiceCollection)"/>, with the options bound from configuration and then set by
    /// <paramref name="configure"/>.
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="configure">Sets options after configuration is bound.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> or <paramref name="configure"/> is null.</exception>
    public static IServiceCollection AddSlabMemoryPool(this IServiceCollection services, Action<SlabMemoryPoolOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<SlabMemoryPoolOptions>()
            .Configure<IServiceProvider>(SlabMemoryPoolConfiguration.Bind)
            .Configure(configure)
            .ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<SlabMemoryPoolOptions>, SlabMemoryPoolConfiguration>());
        services.TryAddSingleton(static provider => new SlabMemoryPoolFactory(
            provider.GetRequiredService<IOptions<SlabMemoryPoolOptions>>(), provider.GetRequiredService<ILogger<SlabMemoryPoolFactory>>()));
        services.Replace(ServiceDescriptor.Singleton<IMemoryPoolFactory<byte>>(static provider => provider.GetRequiredService<SlabMemoryPoolFactory>()));
        services.TryAddEnumerable(ServiceDescriptor.Transient<IStartupFilter, PoolExhaustionStartupFilter>());
        return services;
    }

    /// <summary>
    /// As <see cref="AddSlabMemoryPool(IServiceCollection)"/>, with the budget of each pool set in code (over configuration).
    /// </summary>
    /// <param name="services">The application's services.</param>
    /// <param name="maxBytesPerPool">The budget of each pool a server asks for, 8 MiB to 1 GiB: a rent beyond it fails.</param>
    /// <returns><paramref name="services"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="services"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxBytesPerPool"/> is outside 8 MiB..1 GiB.</exception>
    public static IServiceCollection AddSlabMemoryPool(this IServiceCollection services, int maxBytesPerPool)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytesPerPool, SlabMemoryPoolOptions.MinBytesPerPool);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(maxBytesPerPool, SlabMemoryPoolOptions.MaxBytesPerPoolLimit);
        return AddSlabMemoryPool(services, options => options.MaxBytesPerPool = maxBytesPerPool);
    }
}
