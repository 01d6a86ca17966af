// The main sample: a game-style loop. Loading happens outside interrupt context and may sleep (Vmalloc,
// GfpFlags.Kernel). Every frame runs inside InterruptContext, spawning and retiring thousands of [SlabCache]
// particles with GfpFlags.Atomic, so a frame can never wait for the OS. It prints frame-time percentiles,
// particles per second, GC collections during the loop (zero) and the slabinfo row of the particle cache.
//
//   dotnet run --project samples/SlabGen.Samples.Particles [-- --frames N --spawn N]
using System.Diagnostics;
using System.Globalization;
using System.Numerics;
using SlabGen;

int frames = Option("--frames", 600);
int spawnPerFrame = Option("--spawn", 1_000);

unsafe
{
    // Loading: may sleep. A level's data comes from vmalloc; the particle cache is warmed with Kernel allocations.
    byte* level = (byte*)Kmem.Vmalloc(16 << 20);
    new Span<byte>(level, 16 << 20).Fill(1);
    Warm(spawnPerFrame * 80);

    var world = new World(spawnPerFrame, capacity: spawnPerFrame * 130);
    var frameTimes = new double[frames];
    int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
    var clock = Stopwatch.StartNew();
    for (int frame = 0; frame < frames; frame++)
    {
        long start = Stopwatch.GetTimestamp();
        using (InterruptContext.Enter())
        {
            world.Frame();
        }

        frameTimes[frame] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    clock.Stop();
    int collections = GC.CollectionCount(0) - gen0 + GC.CollectionCount(1) - gen1 + GC.CollectionCount(2) - gen2;
    Array.Sort(frameTimes);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{frames} frames, {world.Spawned:N0} particles spawned ({world.Spawned / clock.Elapsed.TotalSeconds:N0} per second), {world.LiveCount:N0} alive, {world.Dropped} dropped"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"frame time µs: p50 {Percentile(frameTimes, 0.50):F1}  p90 {Percentile(frameTimes, 0.90):F1}  p99 {Percentile(frameTimes, 0.99):F1}  max {frameTimes[^1]:F1}"));
    Console.WriteLine($"GC collections during the frames: {collections}");
    Console.WriteLine();
    string[] report = SlabInfo.Format().Split('\n');
    Console.WriteLine(report[0]);
    Console.WriteLine(report[1]);
    Console.WriteLine(report.Single(line => line.StartsWith(Particle.Cache.Name + " ", StringComparison.Ordinal)));
    Console.WriteLine();
    Console.WriteLine($"pages: {PageAllocator.Shared.BuddyInfo()}");
    Console.Write($"vmalloc: {Kmem.VmallocInfo()}");

    world.Clear();
    Kmem.Vfree(level);
}

static void Warm(int count)
{
    var warm = new SlabRef<Particle>[count];
    for (int i = 0; i < count; i++)
    {
        warm[i] = Particle.Alloc(GfpFlags.Kernel);
    }

    Array.ForEach(warm, Particle.Free);
}

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

/// <summary>The live particles and one frame of their life.</summary>
internal sealed class World(int spawnPerFrame, int capacity)
{
    private readonly SlabRef<Particle>[] _live = new SlabRef<Particle>[capacity];
    private readonly Random _random = new(7);

    public int LiveCount { get; private set; }

    public long Spawned { get; private set; }

    public long Dropped { get; private set; }

    /// <summary>One frame: must not sleep, so every allocation is Atomic.</summary>
    [InterruptContext]
    public void Frame()
    {
        // Retire the particles whose life ran out, update the rest.
        for (int i = LiveCount - 1; i >= 0; i--)
        {
            ref Particle p = ref _live[i].Value;
            p.Position += p.Velocity;
            if (--p.Life <= 0)
            {
                Particle.Free(_live[i]);
                _live[i] = _live[--LiveCount];
            }
        }

        // Spawn: Atomic never sleeps; when memory is short it fails fast and the particle is skipped.
        for (int i = 0; i < spawnPerFrame && LiveCount < _live.Length; i++)
        {
            var velocity = new Vector3(_random.NextSingle(), _random.NextSingle(), _random.NextSingle());
            try
            {
                _live[LiveCount++] = Particle.New(velocity, _random.Next(30, 120), GfpFlags.Atomic);
                Spawned++;
            }
            catch (OutOfMemoryException)
            {
                LiveCount--;
                Dropped++;
            }
        }
    }

    /// <summary>Frees every live particle.</summary>
    public void Clear()
    {
        for (int i = 0; i < LiveCount; i++)
        {
            Particle.Free(_live[i]);
        }

        LiveCount = 0;
    }
}
