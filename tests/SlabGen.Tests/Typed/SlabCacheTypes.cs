// [SlabCache] structs of the end-to-end tests: the generator runs on them in this project's build.
using System.Numerics;
using SlabGen;

namespace SlabGen.Tests.Typed
{
    [SlabCache(Name = "test-particle", Align = 64)]
    public partial struct Particle
    {
        public Vector3 Position;
        public Vector3 Velocity;
        public float Life;
        public int Spawns;

        public Particle(Vector3 position, Vector3 velocity)
        {
            Position = position;
            Velocity = velocity;
            Life = 2;
            Spawns = 0;
        }

        public Particle(float x, ref int counter, out int before, float life = 3)
        {
            Position = new Vector3(x, 0, 0);
            Velocity = default;
            Life = life;
            before = counter++;
            Spawns = before;
        }

        /// <summary>Runs once per object when its slab is populated.</summary>
        [SlabConstructor]
        private static void Construct(ref Particle particle)
        {
            particle.Life = 1;
            particle.Spawns = -1;
        }
    }

    /// <summary>Used by one test only, so every object it sees is in its constructed state.</summary>
    [SlabCache]
    public partial struct Constructed
    {
        public long Magic;
        public int Generation;

        [SlabConstructor]
        private static void Construct(ref Constructed obj)
        {
            obj.Magic = 0x5eed;
            obj.Generation = 0;
        }
    }

    [SlabCache(Checked = true)]
    public partial struct Entity
    {
        public long Id;
        public long Checksum;

        public Entity(long id)
        {
            Id = id;
            Checksum = ~id;
        }
    }

    [SlabCache(Flags = SlabFlags.HwCacheAlign)]
    public partial struct Small
    {
        public int Value;
    }

    [SlabCache(Flags = SlabFlags.Poison)]
    public partial struct Poisoned
    {
        public long A;
        public long B;
    }

    public static partial class Containers
    {
        public partial record Inner
        {
            [SlabCache(Name = "test-nested")]
            public partial struct Nested
            {
                public short A;
                public byte B;

                public Nested(short a, byte b)
                {
                    A = a;
                    B = b;
                }
            }
        }
    }

    [SlabCache(Name = "test-payload")]
    public partial struct Payload
    {
        public long A, B, C, D, E, F, G, H;

        public Payload(long seed)
        {
            A = seed;
            B = seed * 3;
            C = seed * 5;
            D = seed * 7;
            E = seed * 11;
            F = seed * 13;
            G = seed * 17;
            H = A ^ B ^ C ^ D ^ E ^ F ^ G;
        }

        public readonly bool IsIntact => H == (A ^ B ^ C ^ D ^ E ^ F ^ G);
    }

    /// <summary>A constructor whose parameter a literal 0 converts to no better than to GfpFlags.</summary>
    [SlabCache(Name = "test-ticket", Checked = true)]
    public partial struct Ticket
    {
        public long Number;
        public bool Issued;

        public Ticket(long number)
        {
            Number = number + 1000;
            Issued = true;
        }

        public Ticket(long number, params string[] notes)
            : this(number) => Number += notes.Length;
    }
}

/// <summary>A [SlabCache] struct in the global namespace.</summary>
#pragma warning disable CA1050 // the global namespace is the case under test
[SlabCache]
public partial struct GlobalCounter
{
    public long Count;
}
#pragma warning restore CA1050
