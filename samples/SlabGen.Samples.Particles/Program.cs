// The main sample: a game-style loop that takes per-frame scratch memory from SlabGen's page allocator.
// Each frame allocates blocks of a few sizes with GfpFlags.Atomic (a frame must never wait for the OS),
// uses them and frees them; level loading, outside the loop, may sleep and grows the allocator first.
// It prints the buddy free lists before and after, the frame-time percentiles and the GC counts.
//
//   dotnet run --project samples/SlabGen.Samples.Particles [-- --frames N]
using System.Diagnostics;
using System.Globalization;
using SlabGen;

int frames = args.Length == 2 && args[0] == "--frames" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2_000;
using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 64L << 20 });

unsafe
{
    // Level load: may sleep, so Kernel flags. Taking one 4 MiB block and giving it back warms one arena.
    void* level = pages.AllocPages(PageAllocator.MaxOrder, GfpFlags.Kernel);
    pages.FreePages(level, PageAllocator.MaxOrder);
    Console.WriteLine($"after loading:  {pages.BuddyInfo()}");

    var random = new Random(42);
    var live = new List<(nint Block, int Order)>(256);
    var frameTimes = new double[frames];
    long failed = 0, blocks = 0;
    int gen0 = GC.CollectionCount(0);
    var clock = Stopwatch.StartNew();
    for (int frame = 0; frame < frames; frame++)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < 64; i++)
        {
            int order = random.Next(4); // 4 KiB to 32 KiB of scratch
            byte* block = (byte*)pages.AllocPages(order, GfpFlags.Atomic);
            if (block == null)
            {
                failed++; // Atomic fails fast instead of stalling the frame
                continue;
            }

            block[0] = (byte)frame;
            live.Add(((nint)block, order));
            blocks++;
        }

        foreach ((nint block, int order) in live)
        {
            pages.FreePages((void*)block, order);
        }

        live.Clear();
        frameTimes[frame] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    clock.Stop();
    Array.Sort(frameTimes);
    Console.WriteLine($"frames: {frames}, blocks: {blocks:N0} ({blocks / clock.Elapsed.TotalSeconds:N0} per second), Atomic failures: {failed}");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"frame time µs: p50 {Percentile(frameTimes, 0.50):F1}  p99 {Percentile(frameTimes, 0.99):F1}  max {frameTimes[^1]:F1}"));
    Console.WriteLine($"gen0 collections during the loop: {GC.CollectionCount(0) - gen0}");
    Console.WriteLine($"after the loop: {pages.BuddyInfo()}");
    pages.DrainPerThreadPages();
    Console.WriteLine($"after draining: {pages.BuddyInfo()}");
    Console.WriteLine($"trimmed {pages.Trim() >> 20} MiB; arenas held: {pages.ArenaCount}");
}

static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, p * sorted.Length)];
