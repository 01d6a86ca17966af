// The native allocators a case can be measured under: glibc (the process as it is) and, when Debian's packages are
// installed (apt-get install libmimalloc2.0 libjemalloc2 libtcmalloc-minimal4), mimalloc, jemalloc and tcmalloc
// through LD_PRELOAD, each in a BenchmarkDotNet job of its own so NativeMemory.Alloc/Free runs on that allocator.
// SlabGen's cases run in every job too: their ratios to the peer are taken within one job, so within one process
// kind. The suite says which allocators it found (Program.cs) and skips the rest.
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Jobs;

namespace SlabGen.Benchmarks;

internal static class NativePeers
{
    private static readonly (string Name, string Library)[] Known =
    [
        ("mimalloc", "libmimalloc.so.2"),
        ("jemalloc", "libjemalloc.so.2"),
        ("tcmalloc", "libtcmalloc_minimal.so.4"),
    ];

    private static readonly string[] LibraryDirectories =
        ["/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib"];

    /// <summary>The job every case runs in: set by Program before the run (quick or BenchmarkDotNet's default).</summary>
    public static Job BaseJob { get; set; } = Job.Default.WithId("glibc");

    /// <summary>False when the run skips the peers' jobs (--glibc-only).</summary>
    public static bool Enabled { get; set; } = true;

    /// <summary>The installed peers and their libraries, in the order of <see cref="Known"/>; none when disabled.</summary>
    public static IReadOnlyList<(string Name, string Path)> Installed =>
        !Enabled ? [] : Only is null ? s_installed : s_installed.Where(p => Only.Contains(p.Name)).ToList();

    /// <summary>The peers to keep (--peers), or null for every installed one.</summary>
    public static string[]? Only { get; set; }

    private static readonly List<(string Name, string Path)> s_installed = Find();

    /// <summary>The library of an installed peer, or null.</summary>
    public static string? PathOf(string name) => Installed.FirstOrDefault(p => p.Name == name).Path;

    /// <summary>A job per installed peer, the base job under LD_PRELOAD.</summary>
    public static IEnumerable<Job> Jobs() =>
        Installed.Select(peer => BaseJob.WithEnvironmentVariable("LD_PRELOAD", peer.Path).WithId(peer.Name));

    /// <summary>What the suite found, for its header line.</summary>
    public static string Describe() => !Enabled ? "native peers: glibc only (--glibc-only)" :
        "native peers: glibc" + string.Concat(Known.Select(k => PathOf(k.Name) is string path ? $", {k.Name} ({path})"
            : Only is not null && !Only.Contains(k.Name) ? $", {k.Name} (not asked for)" : $", {k.Name} (not installed: skipped)"));

    private static List<(string Name, string Path)> Find()
    {
        var found = new List<(string Name, string Path)>();
        foreach ((string name, string library) in Known)
        {
            string? path = LibraryDirectories.Select(d => Path.Combine(d, library)).FirstOrDefault(File.Exists);
            if (path is not null)
            {
                found.Add((name, path));
            }
        }

        return found;
    }
}

/// <summary>Runs a benchmark class also under every installed native peer (one job each, besides the base job).</summary>
[AttributeUsage(AttributeTargets.Class)]
internal sealed class NativePeersAttribute : Attribute, IConfigSource
{
    public NativePeersAttribute() => Config = ManualConfig.CreateEmpty().AddJob([.. NativePeers.Jobs()]);

    public IConfig Config { get; }
}
