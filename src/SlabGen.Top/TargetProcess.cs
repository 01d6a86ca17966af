// Finds the process to attach to: by id, or by name among the processes that publish a diagnostics port.
using System.Diagnostics;
using System.Runtime.InteropServices;
using Microsoft.Diagnostics.NETCore.Client;

namespace SlabGen.Top;

/// <summary>A .NET process slabtop can attach to.</summary>
internal sealed record TargetProcess(int Id, string Name)
{
    /// <inheritdoc/>
    public override string ToString() => $"{Name} ({Id})";

    /// <summary>
    /// The process <paramref name="options"/> names, waiting up to the timeout for it to start (a process started in the
    /// same breath, <c>dotnet run … &amp;</c>, is still building) or to open its diagnostics port. A process id that is no
    /// process at all fails at once.
    /// </summary>
    /// <exception cref="ArgumentException">No .NET process has that id or name within the timeout, or more than one has that name.</exception>
    public static TargetProcess Find(TopOptions options)
    {
        var waited = Stopwatch.StartNew();
        while (true)
        {
            int[] published = [.. DiagnosticsClient.GetPublishedProcesses().Where(static p => p != Environment.ProcessId)];
            if (options.ProcessId is int id)
            {
                if (published.Contains(id))
                {
                    return new TargetProcess(id, DisplayName(id));
                }

                if (NameOf(id) is null || waited.Elapsed >= options.Timeout)
                {
                    throw new ArgumentException($"process {id} is not a running .NET process with a diagnostics port{Waited(waited)}{Listing(published)}.");
                }
            }
            else
            {
                TargetProcess[] matches = [.. published.Where(p => Matches(p, options.ProcessName!)).Select(static p => new TargetProcess(p, DisplayName(p)))];
                if (matches.Length == 1)
                {
                    return matches[0];
                }

                if (matches.Length > 1)
                {
                    throw new ArgumentException($"{matches.Length} processes are named '{options.ProcessName}' ({string.Join(", ", matches.Select(static m => m.Id))}): name one with -p.");
                }

                if (waited.Elapsed >= options.Timeout)
                {
                    throw new ArgumentException($"no .NET process is named '{options.ProcessName}'{Waited(waited)}{Listing(published)}.");
                }
            }

            Thread.Sleep(200);
        }
    }

    private static string Waited(Stopwatch waited) =>
        waited.Elapsed < TimeSpan.FromSeconds(1) ? "" : $" after waiting {waited.Elapsed.TotalSeconds:0} s";

    private static bool Matches(int id, string wanted) =>
        string.Equals(NameOf(id), wanted, StringComparison.OrdinalIgnoreCase)
        || string.Equals(DllOf(id), wanted, StringComparison.OrdinalIgnoreCase);

    /// <summary>The .dll's name for <c>dotnet App.dll</c>, else the executable's.</summary>
    private static string DisplayName(int id) => DllOf(id) ?? NameOf(id) ?? "?";

    private static string? NameOf(int id)
    {
        try
        {
            using var process = Process.GetProcessById(id);
            return process.ProcessName;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>For <c>dotnet App.dll</c>, "App": the name a user knows the process by. Linux only; elsewhere null.</summary>
    private static string? DllOf(int id)
    {
        if (!RuntimeInformation.IsOSPlatform(OSPlatform.Linux))
        {
            return null;
        }

        try
        {
            string[] argv = File.ReadAllText($"/proc/{id}/cmdline").Split('\0', StringSplitOptions.RemoveEmptyEntries);
            if (argv.Length == 0 || Path.GetFileNameWithoutExtension(argv[0]) != "dotnet")
            {
                return null;
            }

            string? dll = argv.Skip(1).FirstOrDefault(static a => a.EndsWith(".dll", StringComparison.OrdinalIgnoreCase));
            return dll is null ? null : Path.GetFileNameWithoutExtension(dll);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Listing(int[] published) =>
        published.Length == 0 ? " (none is running)" : $"; running: {string.Join(", ", published.Select(static p => $"{DisplayName(p)} ({p})"))}";
}
