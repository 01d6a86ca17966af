// Load shedding on SlabGen's pools: a request that arrives while its connection's pool (IMemoryPoolFeature) has less
// than MinFreeBytes left, or whose handler fails because a SlabMemoryPool refused a rent before the response started, is
// answered 503 with Retry-After and Connection: close, as an overloaded server should, instead of a 500 or a dropped
// connection: the client may try again, a load balancer may send it elsewhere. The answer's headers need a buffer of
// the pool that is short, so they are written inside SlabMemoryPool.UseReserve. Put first in the pipeline by a startup
// filter. Not covered: a pool exhausted while the transport receives; Kestrel ends that connection (docs/server.md).
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace SlabGen.AspNetCore;

/// <summary>Puts <see cref="Middleware"/> in front of the application's pipeline.</summary>
internal sealed partial class PoolExhaustionStartupFilter(IOptions<SlabMemoryPoolOptions> options, ILogger<SlabMemoryPoolFactory> logger) : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
    {
        SlabMemoryPoolOptions value = options.Value;
        if (value.RespondServiceUnavailable)
        {
            app.Use(next => context => Middleware(next, context, value, logger));
        }

        next(app);
    };

    /// <summary>Whether <paramref name="exception"/> (or an exception inside it) is a SlabMemoryPool's refused rent.</summary>
    internal static bool IsPoolExhaustion(Exception? exception)
    {
        for (; exception is not null; exception = exception.InnerException)
        {
            if (exception is InsufficientMemoryException && exception.Source == typeof(SlabMemoryPool).Assembly.GetName().Name
                && exception.Message.StartsWith("SlabMemoryPool ", StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static async Task Middleware(RequestDelegate next, HttpContext context, SlabMemoryPoolOptions options, ILogger logger)
    {
        if (context.Features.Get<IMemoryPoolFeature>()?.MemoryPool is SlabMemoryPool { CapacityBytes: long capacity } pool
            && capacity - pool.RentedBytes < options.MinFreeBytes)
        {
            LogShed(logger, context.Request.Method, context.Request.Path, pool.Owner, capacity - pool.RentedBytes, options.MinFreeBytes);
            await AnswerServiceUnavailable(context, options.RetryAfterSeconds);
            return;
        }

        try
        {
            await next(context);
        }
        catch (Exception exception) when (!context.Response.HasStarted && IsPoolExhaustion(exception))
        {
            LogServiceUnavailable(logger, context.Request.Method, context.Request.Path, exception.Message);
            await AnswerServiceUnavailable(context, options.RetryAfterSeconds);
        }
    }

    private static async Task AnswerServiceUnavailable(HttpContext context, int retryAfterSeconds)
    {
        context.Response.Clear();
        context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        context.Response.ContentLength = 0;
        context.Response.Headers.Connection = "close"; // the request's body is not read: the connection ends after the answer
        if (retryAfterSeconds > 0)
        {
            context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        // The headers need a buffer of the pool that is short: write them now, from its reserve.
        using (SlabMemoryPool.UseReserve())
        {
            await context.Response.CompleteAsync();
        }
    }

    [LoggerMessage(EventId = 3, EventName = "ServiceUnavailable", Level = LogLevel.Warning,
        Message = "{Method} {Path} answered 503: {Reason}")]
    private static partial void LogServiceUnavailable(ILogger logger, string method, string path, string reason);

    [LoggerMessage(EventId = 4, EventName = "RequestShed", Level = LogLevel.Warning,
        Message = "{Method} {Path} answered 503: the '{Owner}' pool of its connection has {FreeBytes} bytes free, below the {MinFreeBytes} a request needs (SlabGen:MemoryPool:MinFreeBytes)")]
    private static partial void LogShed(ILogger logger, string method, string path, string owner, long freeBytes, int minFreeBytes);
}
