// One game loop, four ways to keep its particles: the same seed, the same spawns and deaths per frame, the same
// per-particle work, beside the same long-lived managed scene a game also has. Only where a particle lives differs:
// a [SlabCache] struct, a class and `new`, an ObjectPool<T> of classes, or a struct array with a free list.
using System.Numerics;
using Microsoft.Extensions.ObjectPool;
using SlabGen;

namespace SlabGen.Samples.Particles.Compare;

/// <summary>A particle system under test: one frame of updates, deaths and spawns.</summary>
internal abstract class GameLoop(int spawnPerFrame, int seed)
{
    /// <summary>The longest life of a particle, in frames: the live set is about <c>spawnPerFrame × 75</c>.</summary>
    public const int MaxLife = 120;

    private const float Dt = 1f / 60;
    private readonly Random _random = new(seed);

    /// <summary>The variants, by the names the table prints.</summary>
    public static readonly string[] Variants = ["SlabGen [SlabCache]", "class + new", "ObjectPool<T>", "struct array + free list"];

    public int SpawnPerFrame { get; } = spawnPerFrame;

    /// <summary>Particles alive now.</summary>
    public long Live { get; protected set; }

    /// <summary>The sum of every live particle's height after the last frame: the variants must agree on it.</summary>
    public double Checksum { get; protected set; }

    public static GameLoop Create(string variant, int spawnPerFrame, int seed) => variant switch
    {
        "SlabGen [SlabCache]" => new SlabLoop(spawnPerFrame, seed),
        "class + new" => new ClassLoop(spawnPerFrame, seed),
        "ObjectPool<T>" => new PoolLoop(spawnPerFrame, seed),
        "struct array + free list" => new ArrayLoop(spawnPerFrame, seed),
        _ => throw new ArgumentException($"no variant is named '{variant}'; the variants are: {string.Join(", ", Variants)}", nameof(variant)),
    };

    /// <summary>One frame: every live particle moves and ages, the dead are freed, then <see cref="SpawnPerFrame"/> are born.</summary>
    public abstract void Frame();

    /// <summary>Frees every particle (the end of the run).</summary>
    public abstract void Clear();

    /// <summary>The next particle's birth: the same sequence in every variant.</summary>
    protected (Vector3 Velocity, float Life) Birth() =>
        (new Vector3(_random.NextSingle() - 0.5f, _random.NextSingle() * 4, _random.NextSingle() - 0.5f), _random.Next(30, MaxLife + 1));

    /// <summary>The per-particle work of a frame; returns false when the particle's life ran out.</summary>
    protected static bool Step(ref Vector3 position, ref Vector3 velocity, ref float life)
    {
        velocity.Y -= 9.81f * Dt;
        position += velocity * Dt;
        if (position.Y < 0)
        {
            position.Y = -position.Y;
            velocity.Y = -velocity.Y * 0.5f;
        }

        return --life > 0;
    }

    private sealed class SlabLoop : GameLoop
    {
        public SlabLoop(int spawnPerFrame, int seed)
            : base(spawnPerFrame, seed)
        {
            SlabParticle.Cache.Reserve(spawnPerFrame * (MaxLife + 1L)); // spawns in a frame are Atomic: never wait for the OS
        }

        [InterruptContext]
        public override void Frame()
        {
            double checksum = 0;
            foreach (SlabRef<SlabParticle> handle in SlabParticle.Cache.Handles)
            {
                ref SlabParticle p = ref handle.Value;
                if (Step(ref p.Position, ref p.Velocity, ref p.Life))
                {
                    checksum += p.Position.Y;
                }
                else
                {
                    SlabParticle.Free(handle);
                    Live--;
                }
            }

            for (int i = 0; i < SpawnPerFrame; i++)
            {
                (Vector3 velocity, float life) = Birth();
                if (!SlabParticle.TryNew(velocity, life, out _, GfpFlags.Atomic))
                {
                    throw new InvalidOperationException("the reserve did not cover a spawn");
                }
            }

            Live += SpawnPerFrame;
            Checksum = checksum;
        }

        public override void Clear()
        {
            SlabParticle.Cache.Reset();
            Live = 0;
        }
    }

    /// <summary>A particle as a class: what `new` and the GC give.</summary>
    private sealed class ParticleObject
    {
        public Vector3 Position;
        public Vector3 Velocity;
        public float Life;
    }

    /// <summary>The class variants: a <see cref="List{T}"/> of live objects; where an object comes from and goes to differs.</summary>
    private abstract class ListLoop(int spawnPerFrame, int seed) : GameLoop(spawnPerFrame, seed)
    {
        private readonly List<ParticleObject> _live = new(spawnPerFrame * (MaxLife + 1));

        public override void Frame()
        {
            double checksum = 0;
            for (int i = _live.Count - 1; i >= 0; i--)
            {
                ParticleObject p = _live[i];
                if (Step(ref p.Position, ref p.Velocity, ref p.Life))
                {
                    checksum += p.Position.Y;
                }
                else
                {
                    _live[i] = _live[^1];
                    _live.RemoveAt(_live.Count - 1);
                    Retire(p);
                }
            }

            for (int i = 0; i < SpawnPerFrame; i++)
            {
                (Vector3 velocity, float life) = Birth();
                ParticleObject p = Make();
                p.Position = Vector3.Zero;
                p.Velocity = velocity;
                p.Life = life;
                _live.Add(p);
            }

            Live = _live.Count;
            Checksum = checksum;
        }

        public override void Clear()
        {
            _live.ForEach(Retire);
            _live.Clear();
            Live = 0;
        }

        /// <summary>An object for a new particle.</summary>
        protected abstract ParticleObject Make();

        /// <summary>A dead particle's object.</summary>
        protected abstract void Retire(ParticleObject particle);
    }

    /// <summary>`new` for each particle; a dead one is garbage.</summary>
    private sealed class ClassLoop(int spawnPerFrame, int seed) : ListLoop(spawnPerFrame, seed)
    {
        protected override ParticleObject Make() => new();

        protected override void Retire(ParticleObject particle)
        {
        }
    }

    /// <summary>Particles from Microsoft.Extensions.ObjectPool, returned on death.</summary>
    private sealed class PoolLoop(int spawnPerFrame, int seed) : ListLoop(spawnPerFrame, seed)
    {
        private readonly ObjectPool<ParticleObject> _pool =
            new DefaultObjectPoolProvider { MaximumRetained = spawnPerFrame * (MaxLife + 1) }.Create<ParticleObject>();

        protected override ParticleObject Make() => _pool.Get();

        protected override void Retire(ParticleObject particle) => _pool.Return(particle);
    }

    /// <summary>What game programmers write by hand: a struct array, a free list of indices, a live flag (life above 0).</summary>
    private sealed class ArrayLoop(int spawnPerFrame, int seed) : GameLoop(spawnPerFrame, seed)
    {
        private readonly Slot[] _slots = new Slot[spawnPerFrame * (MaxLife + 1)];
        private readonly int[] _free = new int[spawnPerFrame * (MaxLife + 1)];
        private int _freeCount;
        private int _used; // slots ever used: [0, _used)

        public override void Frame()
        {
            double checksum = 0;
            Slot[] slots = _slots;
            for (int i = 0; i < _used; i++)
            {
                ref Slot p = ref slots[i];
                if (p.Life <= 0)
                {
                    continue;
                }

                if (Step(ref p.Position, ref p.Velocity, ref p.Life))
                {
                    checksum += p.Position.Y;
                }
                else
                {
                    _free[_freeCount++] = i;
                    Live--;
                }
            }

            for (int i = 0; i < SpawnPerFrame; i++)
            {
                (Vector3 velocity, float life) = Birth();
                int index = _freeCount > 0 ? _free[--_freeCount] : _used++;
                slots[index] = new Slot { Velocity = velocity, Life = life };
            }

            Live += SpawnPerFrame;
            Checksum = checksum;
        }

        public override void Clear()
        {
            Array.Clear(_slots);
            _freeCount = 0;
            _used = 0;
            Live = 0;
        }

        private struct Slot
        {
            public Vector3 Position;
            public Vector3 Velocity;
            public float Life;
        }
    }
}

/// <summary>A particle as a slab object: the generated cache is also the list of live particles.</summary>
[SlabCache(Name = "compare-particle")]
internal partial struct SlabParticle
{
    public Vector3 Position;
    public Vector3 Velocity;
    public float Life;

    public SlabParticle(Vector3 velocity, float life)
    {
        Position = Vector3.Zero;
        Velocity = velocity;
        Life = life;
    }
}
