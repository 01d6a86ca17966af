namespace SlabGen;

/// <summary>
/// Sampled guard-page allocations for production (the kernel's KFENCE, Chrome's GWP-ASan): off by default; switched on
/// per process with the environment variable <see cref="EnvironmentVariable"/> or the AppContext setting
/// <see cref="AppContextSetting"/>, read once, at the first cache. A sampled allocation of a slab cache, of kmalloc (of
/// any size), or of a <c>[SlabCache]</c> struct is placed against a guard page, so an overflow faults at once; its free
/// checks the rest of its pages and leaves them inaccessible for a while, so a use after free faults too. On Linux
/// x64 the fault prints which object, of which cache, allocated and freed where, before the runtime's own report.
/// </summary>
/// <remarks>
/// The option takes <c>100ms</c> (an interval: the next allocation after each one is sampled; <c>2s</c>, <c>500us</c>
/// too, and <c>on</c> for 100 ms), <c>1/N</c> (every Nth allocation of a cache on a thread) or <c>off</c>. A value it
/// cannot read leaves sampling off and is reported by the <c>SlabGen</c> event source's <c>DebugOptionIgnored</c>
/// event. docs/sampling.md has what each platform does and what is not sampled.
/// </remarks>
public static class Sampling
{
    /// <summary>The environment variable: <c>SLABGEN_SAMPLE</c>.</summary>
    public const string EnvironmentVariable = "SLABGEN_SAMPLE";

    /// <summary>The AppContext setting (a <c>RuntimeHostConfigurationOption</c> in the project file): <c>SlabGen.Sample</c>.</summary>
    public const string AppContextSetting = "SlabGen.Sample";

    /// <summary>The option as read (the environment variable, else the AppContext setting), or null when neither is set.</summary>
    /// <returns>The option text, or <see langword="null"/> when neither the variable nor the setting is set.</returns>
    public static string? Configured() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) ?? AppContext.GetData(AppContextSetting) as string;

    /// <summary>Whether allocations are sampled in this process.</summary>
    public static bool IsEnabled => Sampler.Enabled;

    /// <summary>The rate in force: <c>1/N</c>, an interval such as <c>100ms</c>, or <c>off</c>.</summary>
    public static string Rate => Sampler.Rate ?? "off";

    /// <summary>
    /// Whether guard pages and freed objects are inaccessible, so that a bad access faults at once (Linux); elsewhere
    /// they hold a pattern that frees and later allocations check.
    /// </summary>
    public static bool GuardPages => Sampler.Pool?.Protects ?? false;

    /// <summary>Whether a fault in a guard page or a freed object prints the object's report before the runtime's (Linux x64).</summary>
    public static bool ReportsFaults => Sampler.Pool?.ReportsFaults ?? false;

    /// <summary>The sampling pool's counters now; all zero when sampling is off.</summary>
    /// <returns>The counters.</returns>
    public static SamplingStatistics GetStatistics() => Sampler.Pool?.Statistics() ?? default;
}

/// <summary>The sampling pool's counters (<see cref="Sampling.GetStatistics"/>).</summary>
/// <param name="Sampled">Allocations placed in the pool since the process started.</param>
/// <param name="Freed">Sampled objects freed since then.</param>
/// <param name="InUse">Sampled objects live now.</param>
/// <param name="Slots">The pool's slots: how many sampled objects can be live at once (255 up to a page, and 8 larger ones on Linux).</param>
/// <param name="Errors">Misuses the pool caught and reported as exceptions: bad frees and overwritten bytes around an object.</param>
/// <param name="Skipped">Allocations the gate chose that the pool did not take: every slot of its size in use, or a cache with checked handles.</param>
public readonly record struct SamplingStatistics(long Sampled, long Freed, int InUse, int Slots, long Errors, long Skipped);
