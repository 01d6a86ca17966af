// A request that fails because a SlabMemoryPool refused a rent (its budget is spent) is answered 503 with Retry-After,
// as an overloaded server should, instead of the 500 an unhandled exception gets: the client may try again, the load
// balancer may send it elsewhere. Put first in the pipeline by a startup filter; a response already started cannot be
// changed, and the exception goes on to Kestrel, which aborts the connection.
using Microsoft.AspNetCore.Builder;
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
            app.Use(next => context => Middleware(next, context, value.RetryAfterSeconds, logger));
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

    private static async Task Middleware(RequestDelegate next, HttpContext context, int retryAfterSeconds, ILogger logger)
    {
        try
        {
            await next(context);
        }
        catch (Exception exception) when (!context.Response.HasStarted && IsPoolExhaustion(exception))
        {
            LogServiceUnavailable(logger, context.Request.Method, context.Request.Path, exception.Message);
            context.Response.Clear();
            context.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
            context.Response.ContentLength = 0;
            if (retryAfterSeconds > 0)
            {
                context.Response.Headers.RetryAfter = retryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
            }

            // The answer's headers need a buffer of the exhausted pool: write them now, from its reserve.
            using (SlabMemoryPool.UseReserve())
            {
                await context.Response.StartAsync();
            }
        }
    }

    [LoggerMessage(EventId = 3, EventName = "ServiceUnavailable", Level = LogLevel.Warning,
        Message = "{Method} {Path} answered 503: {Reason}")]
    private static partial void LogServiceUnavailable(ILogger logger, string method, string path, string reason);
}
