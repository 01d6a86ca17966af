// The main sample: a game-style loop over levels. Loading happens outside interrupt context and may sleep: the level's
// data comes from Vmalloc, the particle system gets a 64 MiB budget (its own capped PageAllocator) and a reserve of
// slabs taken up front. Every frame runs inside InterruptContext: it visits the live particles in place through the
// cache (no list beside it), retires the dead ones and spawns new ones with GfpFlags.Atomic, which the reserve serves,
// so a frame never waits for the OS and never drops a particle. A level ends with Reset, which frees every particle at
// once. It prints frame-time percentiles, particles per second, GC collections during the frames (zero) and the
// slabinfo row of the particle cache.
//
//   dotnet run -c Release --project samples/SlabGen.Samples.Particles [-- --frames N --spawn N --levels N]
//
// With --compare it runs one game loop four ways instead (SlabGen, class + new, ObjectPool<T>, a struct array with a
// free list), each in its own process, and prints their frame times and GC work side by side (Compare/).
//
//   dotnet run -c Release --project samples/SlabGen.Samples.Particles -- --compare [--frames N --spawn N --gc workstation|server|both --chart-dir DIR]
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using SlabGen;
using SlabGen.Samples.Particles.Compare;

if (args.Contains("--compare"))
{
    return CompareRunner.Run(args);
}

if (args.Contains("--variant"))
{
    return CompareRunner.RunVariant(args);
}

int frames = Option("--frames", 600);
int spawnPerFrame = Option("--spawn", 1_000);
int levels = Option("--levels", 2);

unsafe
{
    // Loading: may sleep. The level's data, the particle system's budget and its reserve.
    byte* level = (byte*)Kmem.Vmalloc(16 << 20);
    new Span<byte>(level, 16 << 20).Fill(1);
    var budget = new PageAllocator(new PageAllocatorOptions { MaxBytes = 64 << 20, Name = "particles" });
    SlabCaches.UsePages<Particle>(budget);
    long reserved = Particle.Cache.Reserve(spawnPerFrame * 130L); // particles live up to 120 frames

    var world = new World(spawnPerFrame);
    var frameTimes = new double[frames * levels];
    int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
    var clock = Stopwatch.StartNew();
    for (int l = 0; l < levels; l++)
    {
        for (int frame = 0; frame < frames; frame++)
        {
            long start = Stopwatch.GetTimestamp();
            using (InterruptContext.Enter())
            {
                world.Frame();
            }

            frameTimes[(l * frames) + frame] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        if (l < levels - 1)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"level {l + 1}: {world.EndLevel():N0} particles freed by Reset"));
        }
    }

    clock.Stop();
    int collections = GC.CollectionCount(0) - gen0 + GC.CollectionCount(1) - gen1 + GC.CollectionCount(2) - gen2;
    Array.Sort(frameTimes);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{frameTimes.Length} frames, {world.Spawned:N0} particles spawned ({world.Spawned / clock.Elapsed.TotalSeconds:N0} per second), {world.LiveCount:N0} alive, {world.Dropped} dropped"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"frame time µs: p50 {Percentile(frameTimes, 0.50):F1}  p90 {Percentile(frameTimes, 0.90):F1}  p99 {Percentile(frameTimes, 0.99):F1}  max {frameTimes[^1]:F1}"));
    Console.WriteLine($"GC collections during the frames: {collections}");
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"budget: {budget.BytesFromOs >> 20} MiB of {budget.MaxBytes >> 20} MiB taken, {reserved:N0} particles reserved"));
    Console.WriteLine();
    string[] report = SlabInfo.Format().Split('\n');
    Console.WriteLine(report[0]);
    Console.WriteLine(report[1]);
    Console.WriteLine(report.Single(line => line.StartsWith(Particle.Cache.Name + " ", StringComparison.Ordinal)));
    Console.WriteLine();
    Console.WriteLine($"pages: {PageAllocator.Shared.BuddyInfo()}");
    Console.Write($"vmalloc: {Kmem.VmallocInfo()}");

    world.EndLevel();
    Kmem.Vfree(level);
}

return 0;

int Option(string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, p * sorted.Length)];

/// <summary>A particle: 28 bytes of state, one cache line per object.</summary>
[SlabCache(Name = "particle", Flags = SlabFlags.HwCacheAlign)]
internal partial struct Particle
{
    public Vector3 Position;
    public Vector3 Velocity;
    public float Life;

    public Particle(Vector3 velocity, float life)
    {
        Position = Vector3.Zero;
        Velocity = velocity;
        Life = life;
    }
}

/// <summary>One frame of the particles' life, and the end of a level. The cache itself is the list of live particles.</summary>
internal sealed class World(int spawnPerFrame)
{
    private readonly Random _random = new(7);

    public long LiveCount { get; private set; }

    public long Spawned { get; private set; }

    public long Dropped { get; private set; }

    /// <summary>One frame: must not sleep, so every allocation is Atomic.</summary>
    [InterruptContext]
    public void Frame()
    {
        // Visit every live particle in place; retire those whose life ran out.
        foreach (SlabRef<Particle> handle in Particle.Cache.Handles)
        {
            ref Particle p = ref handle.Value;
            p.Position += p.Velocity;
            if (--p.Life <= 0)
            {
                Particle.Free(handle);
                LiveCount--;
            }
        }

        // Spawn: Atomic never sleeps. The reserve covers every live particle; were it short, a spawn would be dropped.
        for (int i = 0; i < spawnPerFrame; i++)
        {
            var velocity = new Vector3(_random.NextSingle(), _random.NextSingle(), _random.NextSingle());
            if (Particle.TryNew(velocity, _random.Next(30, 120), out _, GfpFlags.Atomic))
            {
                Spawned++;
                LiveCount++;
            }
            else
            {
                Dropped++;
            }
        }
    }

    /// <summary>The end of a level: every particle goes at once.</summary>
    public long EndLevel()
    {
        LiveCount = 0;
        return Particle.Cache.Reset();
    }
}
