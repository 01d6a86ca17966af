// The command line, slabtop's where it has one: -d delay, -o once, -s sort. A process is named by id (-p) or by
// name (-n), as dotnet-counters names them.
using System.Globalization;

namespace SlabGen.Top;

/// <summary>The columns a table can be sorted by; slabtop's letters where slabtop has the column.</summary>
internal enum SortKey
{
    /// <summary>n: the cache's name, ascending.</summary>
    Name,

    /// <summary>live: objects allocated and not freed.</summary>
    Live,

    /// <summary>a: active objects.</summary>
    Active,

    /// <summary>o: all objects (slabtop's default).</summary>
    Total,

    /// <summary>t: free objects parked in threads' caches and the depot.</summary>
    Cached,

    /// <summary>s: bytes per object slot (slabtop's OBJ SIZE).</summary>
    SlotSize,

    /// <summary>l: slabs.</summary>
    Slabs,

    /// <summary>c: bytes of the cache's slabs.</summary>
    Memory,

    /// <summary>u: active objects as a share of all.</summary>
    Use,
}

/// <summary>What the user asked for.</summary>
internal sealed record TopOptions(int? ProcessId, string? ProcessName, bool Once, bool Json, SortKey Sort, TimeSpan Delay, TimeSpan Timeout)
{
    public const string Usage = """
        slabtop: the SlabGen caches, page allocator and vmalloc areas of a running .NET process.

        usage: slabtop (-p <pid> | -n <name>) [--once] [--json] [-s <key>] [-d <seconds>] [--timeout <seconds>]

          -p, --process-id <pid>   the process to attach to
          -n, --name <name>        the process to attach to, by name (its executable, or the .dll dotnet runs)
          -o, --once               print one snapshot and exit
              --json               print one snapshot as JSON and exit
          -s, --sort <key>         sort the caches: n name, live, a active, o objects (default), t cached,
                                   s object size, l slabs, c memory, u use; in the live view press the letter
          -d, --delay <seconds>    refresh interval (default 1)
              --timeout <seconds>  how long to wait for the process to start and, with --once and --json, for
                                   the first collection (default 15)
          -h, --help               this text

        In the live view: q quits, the sort letters re-sort.
        """;

    /// <summary>Parses <paramref name="args"/>.</summary>
    /// <exception cref="ArgumentException">An unknown option, a missing or bad value, or no process named.</exception>
    public static TopOptions Parse(IReadOnlyList<string> args)
    {
        int? pid = null;
        string? name = null;
        bool once = false, json = false;
        SortKey sort = SortKey.Total;
        TimeSpan delay = TimeSpan.FromSeconds(1), timeout = TimeSpan.FromSeconds(15);
        for (int i = 0; i < args.Count; i++)
        {
            string arg = args[i];
            switch (arg)
            {
                case "-p" or "--process-id":
                    pid = int.TryParse(Value(args, ref i), NumberStyles.None, CultureInfo.InvariantCulture, out int id) && id > 0
                        ? id : throw new ArgumentException($"{arg} wants a process id (a positive number), not '{args[i]}'.");
                    break;
                case "-n" or "--name":
                    name = Value(args, ref i);
                    break;
                case "-o" or "--once":
                    once = true;
                    break;
                case "--json":
                    json = true;
                    break;
                case "-s" or "--sort":
                    string key = Value(args, ref i);
                    sort = SortKeys.Parse(key) ?? throw new ArgumentException($"{arg}: unknown sort key '{key}'; use one of {SortKeys.Names}.");
                    break;
                case "-d" or "--delay":
                    delay = Seconds(arg, Value(args, ref i));
                    break;
                case "--timeout":
                    timeout = Seconds(arg, Value(args, ref i));
                    break;
                default:
                    throw new ArgumentException($"unknown option '{arg}'.");
            }
        }

        if ((pid is null) == (name is null))
        {
            throw new ArgumentException("name the process with -p <pid> or -n <name> (one of them).");
        }

        return new TopOptions(pid, name, once || json, json, sort, delay, timeout);
    }

    private static string Value(IReadOnlyList<string> args, ref int i) =>
        ++i < args.Count ? args[i] : throw new ArgumentException($"{args[i - 1]} wants a value.");

    private static TimeSpan Seconds(string option, string value) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out double seconds) && seconds is >= 0.1 and <= 3600
            ? TimeSpan.FromSeconds(seconds)
            : throw new ArgumentException($"{option} wants seconds between 0.1 and 3600, not '{value}'.");
}

/// <summary>The sort keys' letters and words, and the ordering they give.</summary>
internal static class SortKeys
{
    public const string Names = "n/name, live, a/active, o/objects, t/cached, s/size, l/slabs, c/memory, u/use";

    /// <summary>The key a letter or word names, or null.</summary>
    public static SortKey? Parse(string key) => key switch
    {
        "n" or "name" => SortKey.Name,
        "live" => SortKey.Live,
        "a" or "active" => SortKey.Active,
        "o" or "objects" => SortKey.Total,
        "t" or "cached" => SortKey.Cached,
        "s" or "size" => SortKey.SlotSize,
        "l" or "slabs" => SortKey.Slabs,
        "c" or "memory" => SortKey.Memory,
        "u" or "use" => SortKey.Use,
        _ => null,
    };

    /// <summary>The key as the live view's title names it: the column and its letter.</summary>
    public static string Describe(SortKey key) => key switch
    {
        SortKey.Name => "name (n)",
        SortKey.Live => "live",
        SortKey.Active => "active (a)",
        SortKey.Cached => "cached (t)",
        SortKey.SlotSize => "object size (s)",
        SortKey.Slabs => "slabs (l)",
        SortKey.Memory => "cache size (c)",
        SortKey.Use => "use (u)",
        _ => "objects (o)",
    };

    /// <summary>The rows in the key's order: the name ascending, every number descending, ties by name.</summary>
    public static IEnumerable<CacheRow> Order(IEnumerable<CacheRow> rows, SortKey key)
    {
        IOrderedEnumerable<CacheRow> ordered = key switch
        {
            SortKey.Name => rows.OrderBy(static r => r.Name, StringComparer.Ordinal),
            SortKey.Live => rows.OrderByDescending(static r => r.Live),
            SortKey.Active => rows.OrderByDescending(static r => r.Active),
            SortKey.Cached => rows.OrderByDescending(static r => r.Cached),
            SortKey.SlotSize => rows.OrderByDescending(static r => r.SlotSize),
            SortKey.Slabs => rows.OrderByDescending(static r => r.Slabs),
            SortKey.Memory => rows.OrderByDescending(static r => r.MemoryBytes),
            SortKey.Use => rows.OrderByDescending(static r => r.Use),
            _ => rows.OrderByDescending(static r => r.Total),
        };
        return ordered.ThenBy(static r => r.Name, StringComparer.Ordinal);
    }
}
