// SlabMemoryPoolOptions from configuration, read key by key (no reflection binder: trimming-safe, and a bad value is
// reported with its key), and checked before the host starts.
using System.Globalization;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace SlabGen.AspNetCore;

/// <summary>Binds <see cref="SlabMemoryPoolOptions"/> from <c>SlabGen:MemoryPool</c> and validates them.</summary>
internal sealed class SlabMemoryPoolConfiguration : IValidateOptions<SlabMemoryPoolOptions>
{
    /// <summary>Reads the section's keys into <paramref name="options"/>; a key that is absent leaves its default.</summary>
    /// <exception cref="InvalidOperationException">A value that is not a number (or true/false), naming the key.</exception>
    internal static void Bind(SlabMemoryPoolOptions options, IServiceProvider services)
    {
        if (services.GetService<IConfiguration>() is not IConfiguration configuration)
        {
            return;
        }

        IConfigurationSection section = configuration.GetSection(SlabMemoryPoolOptions.SectionName);
        foreach (IConfigurationSection key in section.GetChildren())
        {
            switch (key.Key)
            {
                case nameof(SlabMemoryPoolOptions.MaxBytesPerPool):
                    options.MaxBytesPerPool = ParseInt(key);
                    break;
                case nameof(SlabMemoryPoolOptions.RespondServiceUnavailable):
                    options.RespondServiceUnavailable = bool.TryParse(key.Value, out bool respond) ? respond
                        : throw new InvalidOperationException($"{key.Path} is '{key.Value}': it must be true or false.");
                    break;
                case nameof(SlabMemoryPoolOptions.RetryAfterSeconds):
                    options.RetryAfterSeconds = ParseInt(key);
                    break;
                case nameof(SlabMemoryPoolOptions.TrimAfterIdleSeconds):
                    options.TrimAfterIdleSeconds = ParseInt(key);
                    break;
                case nameof(SlabMemoryPoolOptions.MinFreeBytes):
                    options.MinFreeBytes = ParseInt(key);
                    break;
                default:
                    throw new InvalidOperationException($"{key.Path} is not an option of the SlabGen memory pool: the section takes " +
                        $"{nameof(SlabMemoryPoolOptions.MaxBytesPerPool)}, {nameof(SlabMemoryPoolOptions.RespondServiceUnavailable)}, {nameof(SlabMemoryPoolOptions.MinFreeBytes)}, {nameof(SlabMemoryPoolOptions.TrimAfterIdleSeconds)} and {nameof(SlabMemoryPoolOptions.RetryAfterSeconds)}.");
            }
        }
    }

    /// <inheritdoc/>
    public ValidateOptionsResult Validate(string? name, SlabMemoryPoolOptions options)
    {
        var failures = new List<string>();
        if (options.MaxBytesPerPool is < SlabMemoryPoolOptions.MinBytesPerPool or > SlabMemoryPoolOptions.MaxBytesPerPoolLimit)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{SlabMemoryPoolOptions.SectionName}:{nameof(SlabMemoryPoolOptions.MaxBytesPerPool)} is {options.MaxBytesPerPool:N0}: it must be 8,388,608 (8 MiB) to 1,073,741,824 (1 GiB)."));
        }

        if (options.RetryAfterSeconds is < 0 or > 3600)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{SlabMemoryPoolOptions.SectionName}:{nameof(SlabMemoryPoolOptions.RetryAfterSeconds)} is {options.RetryAfterSeconds}: it must be 0 to 3,600."));
        }

        if (options.TrimAfterIdleSeconds is < 0 or > 3600)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{SlabMemoryPoolOptions.SectionName}:{nameof(SlabMemoryPoolOptions.TrimAfterIdleSeconds)} is {options.TrimAfterIdleSeconds}: it must be 0 to 3,600."));
        }

        if (options.MinFreeBytes is < 0 or > SlabMemoryPoolOptions.MaxBytesPerPoolLimit)
        {
            failures.Add(string.Create(CultureInfo.InvariantCulture,
                $"{SlabMemoryPoolOptions.SectionName}:{nameof(SlabMemoryPoolOptions.MinFreeBytes)} is {options.MinFreeBytes:N0}: it must be 0 to 1,073,741,824 (1 GiB)."));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    private static int ParseInt(IConfigurationSection key) =>
        int.TryParse(key.Value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int value) ? value
            : throw new InvalidOperationException($"{key.Path} is '{key.Value}': it must be a whole number.");
}
