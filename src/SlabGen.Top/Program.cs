// slabtop for .NET. Exit codes: 0 done, 1 bad command line, 2 no such process (or it cannot be attached to),
// 3 no SlabGen measurements within the timeout (--once, --json).
using Microsoft.Diagnostics.NETCore.Client;
using SlabGen.Top;
using Spectre.Console;

if (args is ["-h"] or ["--help"])
{
    Console.WriteLine(TopOptions.Usage);
    return 0;
}

TopOptions options;
TargetProcess target;
try
{
    options = TopOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"slabtop: {ex.Message}\n\n{TopOptions.Usage}");
    return 1;
}

try
{
    target = TargetProcess.Find(options);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"slabtop: {ex.Message}");
    return 2;
}

try
{
    return options.Once ? Once(options, target) : Live(options, target);
}
catch (Exception ex) when (ex is ServerNotAvailableException or UnsupportedCommandException or TimeoutException)
{
    Console.Error.WriteLine($"slabtop: cannot attach to {target}: {ex.Message}");
    return 2;
}

static int Once(TopOptions options, TargetProcess target)
{
    var first = new TaskCompletionSource<Snapshot>(TaskCreationOptions.RunContinuationsAsynchronously);
    using MeterSession session = MeterSession.Start(target.Id, options.Delay, s => first.TrySetResult(s));
    if (!first.Task.Wait(options.Timeout))
    {
        Console.Error.WriteLine($"slabtop: {target} reported no SlabGen measurements in {options.Timeout.TotalSeconds:0.#} s: "
            + "does it use SlabGen? (the meter appears with its first cache or page allocator)" + (session.Error is { } error ? $"; {error}" : ""));
        return 3;
    }

    if (options.Json)
    {
        Console.WriteLine(JsonSnapshot.Write(target, first.Task.Result, options.Sort));
    }
    else
    {
        Screen().Write(SnapshotView.Render(target, first.Task.Result, options.Sort));
    }

    return 0;
}

static int Live(TopOptions options, TargetProcess target)
{
    Snapshot? latest = null;
    using var arrived = new AutoResetEvent(false);
    using MeterSession session = MeterSession.Start(target.Id, options.Delay, s =>
    {
        Volatile.Write(ref latest, s);
        arrived.Set();
    });
    SortKey sort = options.Sort;
    IAnsiConsole screen = Screen();
    bool quit = false;
    // A screen taller than the terminal loses its bottom (the chart), never the summary and the first caches.
    screen.Live(new Text($"slabtop - {target} - waiting for the first collection (q quits)"))
        .Overflow(VerticalOverflow.Crop).Cropping(VerticalOverflowCropping.Bottom).Start(context =>
    {
        while (session.IsReading)
        {
            bool redraw = arrived.WaitOne(TimeSpan.FromMilliseconds(100));
            while (!Console.IsInputRedirected && Console.KeyAvailable)
            {
                char key = Console.ReadKey(intercept: true).KeyChar;
                if (key is 'q' or 'Q')
                {
                    quit = true;
                    return;
                }

                if (SortKeys.Parse(key.ToString()) is SortKey chosen)
                {
                    sort = chosen;
                    redraw = true;
                }
            }

            if (redraw && Volatile.Read(ref latest) is Snapshot snapshot)
            {
                context.UpdateTarget(SnapshotView.Render(target, snapshot, sort));
            }
        }
    });
    if (!quit)
    {
        Console.Error.WriteLine(session.Error is { } error ? $"slabtop: {error}" : $"slabtop: {target} has exited.");
    }

    return 0;
}

// Redirected output (a file, a pipe, a test) gets plain text 120 columns wide; a terminal gets its own width and colours.
static IAnsiConsole Screen()
{
    IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Out) });
    if (Console.IsOutputRedirected)
    {
        console.Profile.Width = 120;
    }

    return console;
}
