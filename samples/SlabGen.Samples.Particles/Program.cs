// The main sample: a game-style loop. Loading happens outside interrupt context and may sleep (Vmalloc,
// GfpFlags.Kernel); every frame runs inside InterruptContext, spawning and retiring thousands of particles
// from a slab cache with GfpFlags.Atomic, so a frame can never wait for the OS. It prints frame-time
// percentiles, particles per second, GC collections during the loop (zero) and the slabinfo rows.
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
    using KmemCache<Particle> particles = KmemCache<Particle>.Create("particle", SlabFlags.HwCacheAlign);
    Warm(particles, spawnPerFrame * 80);

    int capacity = spawnPerFrame * 130;
    var live = new nint[capacity];
    int liveCount = 0;
    var frameTimes = new double[frames];
    long spawned = 0, dropped = 0;
    var random = new Random(7);
    int gen0 = GC.CollectionCount(0), gen1 = GC.CollectionCount(1), gen2 = GC.CollectionCount(2);
    var clock = Stopwatch.StartNew();

    for (int frame = 0; frame < frames; frame++)
    {
        long start = Stopwatch.GetTimestamp();
        using (InterruptContext.Enter())
        {
            // Retire the particles whose life ran out, update the rest.
            for (int i = liveCount - 1; i >= 0; i--)
            {
                var p = (Particle*)live[i];
                p->Position += p->Velocity;
                if (--p->Life <= 0)
                {
                    particles.Free(p);
                    live[i] = live[--liveCount];
                }
            }

            // Spawn: Atomic never sleeps; when memory is short it fails fast and the particle is skipped.
            for (int i = 0; i < spawnPerFrame && liveCount < capacity; i++)
            {
                Particle* p = particles.Alloc(GfpFlags.Atomic);
                if (p == null)
                {
                    dropped++;
                    continue;
                }

                p->Position = Vector3.Zero;
                p->Velocity = new Vector3(random.NextSingle(), random.NextSingle(), random.NextSingle());
                p->Life = random.Next(30, 120);
                live[liveCount++] = (nint)p;
                spawned++;
            }
        }

        frameTimes[frame] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
    }

    clock.Stop();
    int collections = GC.CollectionCount(0) - gen0 + GC.CollectionCount(1) - gen1 + GC.CollectionCount(2) - gen2;
    Array.Sort(frameTimes);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"{frames} frames, {spawned:N0} particles spawned ({spawned / clock.Elapsed.TotalSeconds:N0} per second), {liveCount:N0} alive, {dropped} dropped"));
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"frame time µs: p50 {Percentile(frameTimes, 0.50):F1}  p90 {Percentile(frameTimes, 0.90):F1}  p99 {Percentile(frameTimes, 0.99):F1}  max {frameTimes[^1]:F1}"));
    Console.WriteLine($"GC collections during the frames: {collections}");
    Console.WriteLine();
    string[] report = SlabInfo.Format().Split('\n');
    Console.WriteLine(report[0]);
    Console.WriteLine(report[1]);
    Console.WriteLine(report.Single(line => line.StartsWith("particle ", StringComparison.Ordinal)));
    Console.WriteLine();
    Console.WriteLine($"pages: {PageAllocator.Shared.BuddyInfo()}");
    Console.Write($"vmalloc: {Kmem.VmallocInfo()}");

    for (int i = 0; i < liveCount; i++)
    {
        particles.Free((Particle*)live[i]);
    }

    Kmem.Vfree(level);
}

static unsafe void Warm(KmemCache<Particle> cache, int count)
{
    var warm = new nint[count];
    for (int i = 0; i < count; i++)
    {
        warm[i] = (nint)cache.Alloc(GfpFlags.Kernel);
    }

    foreach (nint p in warm)
    {
        cache.Free((Particle*)p);
    }
}

int Option(string name, int fallback)
{
    int at = Array.IndexOf(args, name);
    return at >= 0 && at + 1 < args.Length ? int.Parse(args[at + 1], CultureInfo.InvariantCulture) : fallback;
}

static double Percentile(double[] sorted, double p) => sorted[(int)Math.Min(sorted.Length - 1, p * sorted.Length)];

/// <summary>A particle: 32 bytes of state, one cache line per object with HwCacheAlign.</summary>
internal struct Particle
{
    public Vector3 Position;
    public Vector3 Velocity;
    public float Life;
}
