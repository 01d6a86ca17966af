// Debug modes switched on per process, without recompiling: the kernel's slab_debug= boot option
// (Documentation/mm/slub.rst), read once from an environment variable or a runtimeconfig/AppContext setting.
//   SLABGEN_SLAB_DEBUG=FZPU,kmalloc-*;P,particle
// Blocks are separated by ';'. A block is flags, then optionally ',' and cache names; a name may end in '*' (a prefix,
// as the kernel's glob). Flags: F (ConsistencyChecks), Z (RedZone), P (Poison), U (StoreUser), '-' (none: switch
// debugging off for those caches). A block without names applies to every cache; an empty value is FZPU for every
// cache, as a bare slab_debug, and a block with names but no letters (",particle") is FZPU for those caches. For a cache, the last block that names it wins, else the last block without names.
// Unknown letters are ignored and reported once (the SlabGen event source), as the kernel ignores them with a warning:
// a typo in a debugging option must not stop a program, and kmalloc's caches are created in a static constructor.
namespace SlabGen;

/// <summary>
/// Debug flags for caches by name, set per process without recompiling, modelled on the kernel's <c>slab_debug=</c>:
/// the environment variable <see cref="EnvironmentVariable"/> or the AppContext/runtimeconfig setting
/// <see cref="AppContextSetting"/> (the environment variable wins), read once, when the first cache is created.
/// </summary>
/// <remarks>
/// <c>SLABGEN_SLAB_DEBUG=FZPU,kmalloc-*</c> turns every debug mode on for the kmalloc caches; <c>ZP</c> turns red zones
/// and poisoning on for every cache. The flags a cache got are in <see cref="KmemCache.Flags"/> and in slabinfo.
/// </remarks>
public static class SlabDebug
{
    /// <summary>The environment variable: <c>SLABGEN_SLAB_DEBUG</c>.</summary>
    public const string EnvironmentVariable = "SLABGEN_SLAB_DEBUG";

    /// <summary>The AppContext setting (a <c>RuntimeHostConfigurationOption</c> in the project file): <c>SlabGen.SlabDebug</c>.</summary>
    public const string AppContextSetting = "SlabGen.SlabDebug";

    private static readonly Lazy<Rule[]> s_rules = new(() => Parse(Configured(), out _));

    /// <summary>The option as read (the environment variable, else the AppContext setting), or null when neither is set.</summary>
    /// <returns>The option text, or <see langword="null"/> when neither the variable nor the switch is set.</returns>
    public static string? Configured() =>
        Environment.GetEnvironmentVariable(EnvironmentVariable) ?? AppContext.GetData(AppContextSetting) as string;

    /// <summary>The debug flags the configured option gives the cache <paramref name="cacheName"/>.</summary>
    /// <param name="cacheName">A cache's name.</param>
    /// <returns>The debug flags the process option gives that cache; <see cref="SlabFlags.None"/> when none.</returns>
    public static SlabFlags FlagsFor(string cacheName) => FlagsFor(s_rules.Value, cacheName);

    /// <summary>The debug flags <paramref name="option"/> (slab_debug syntax) gives <paramref name="cacheName"/>, and what it could not read.</summary>
    /// <param name="option">The option text, or null for none.</param>
    /// <param name="cacheName">A cache's name.</param>
    /// <param name="ignored">The letters and names that were ignored, empty when it is all understood.</param>
    /// <returns>The debug flags <paramref name="option"/> gives that cache.</returns>
    public static SlabFlags FlagsFor(string? option, string cacheName, out string ignored) => FlagsFor(Parse(option, out ignored), cacheName);

    private static SlabFlags FlagsFor(Rule[] rules, string cacheName)
    {
        SlabFlags? global = null;
        SlabFlags? named = null;
        foreach (Rule rule in rules)
        {
            if (rule.Names.Length == 0)
            {
                global = rule.Flags;
            }
            else if (rule.Names.Any(pattern => Matches(pattern, cacheName)))
            {
                named = rule.Flags;
            }
        }

        return named ?? global ?? SlabFlags.None;
    }

    private static bool Matches(string pattern, string name) => pattern.EndsWith('*')
        ? name.StartsWith(pattern[..^1], StringComparison.Ordinal)
        : string.Equals(pattern, name, StringComparison.Ordinal);

    private static Rule[] Parse(string? option, out string ignored)
    {
        ignored = "";
        if (option is null)
        {
            return [];
        }

        const SlabFlags all = SlabFlags.ConsistencyChecks | SlabFlags.RedZone | SlabFlags.Poison | SlabFlags.StoreUser;
        if (option.Trim().Length == 0)
        {
            return [new Rule(all, [])];
        }

        var rules = new List<Rule>();
        var unknown = new List<string>();
        foreach (string block in option.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            string[] parts = block.Split(',', StringSplitOptions.TrimEntries);
            SlabFlags flags = SlabFlags.None;
            foreach (char letter in parts[0])
            {
                switch (char.ToUpperInvariant(letter))
                {
                    case 'F': flags |= SlabFlags.ConsistencyChecks; break;
                    case 'Z': flags |= SlabFlags.RedZone; break;
                    case 'P': flags |= SlabFlags.Poison; break;
                    case 'U': flags |= SlabFlags.StoreUser; break;
                    case '-': break;
                    default: unknown.Add($"'{letter}'"); break;
                }
            }

            // No letters at all is full debugging, as the kernel reads slab_debug=,dentry.
            rules.Add(new Rule(parts[0].Length == 0 ? all : flags, parts.Skip(1).Where(static n => n.Length != 0).ToArray()));
        }

        if (unknown.Count != 0)
        {
            ignored = $"{EnvironmentVariable}/{AppContextSetting} '{option}': unknown flags {string.Join(", ", unknown)} were ignored (known: F, Z, P, U, -).";
            SlabGenEventSource.Log.DebugOptionIgnored(ignored);
        }

        return [.. rules];
    }

    private sealed record Rule(SlabFlags Flags, string[] Names);
}
