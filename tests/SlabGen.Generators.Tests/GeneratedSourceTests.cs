// The generated source for a representative set of [SlabCache] structs, against golden files; and for each,
// proof that it compiles with the user's code without a warning.
using Microsoft.CodeAnalysis;

namespace SlabGen.Generators.Tests;

public class GeneratedSourceTests
{
    [Fact]
    public void A_struct_with_name_alignment_flags_constructor_and_slab_constructor() => Check(nameof(A_struct_with_name_alignment_flags_constructor_and_slab_constructor), """
        using System.Numerics;
        using SlabGen;

        namespace Game.Effects;

        [SlabCache(Name = "particle", Align = 64, Flags = SlabFlags.Poison)]
        public partial struct Particle
        {
            public Vector3 Position, Velocity;
            public float Life;

            public Particle(Vector3 p, Vector3 v) { Position = p; Velocity = v; Life = 1; }

            [SlabConstructor]
            static void Init(ref Particle p) => p.Life = 1;
        }
        """);

    [Fact]
    public void A_struct_in_the_global_namespace_with_no_arguments() => Check(nameof(A_struct_in_the_global_namespace_with_no_arguments), """
        [SlabGen.SlabCache]
        public partial struct Bullet
        {
            public long Id;
            public double X, Y;
        }
        """);

    [Fact]
    public void Structs_nested_in_partial_types_and_a_record_struct() => Check(nameof(Structs_nested_in_partial_types_and_a_record_struct), """
        using SlabGen;

        namespace Server;

        public static partial class Connections
        {
            public partial record Registry
            {
                [SlabCache(Name = "conn-state")]
                public partial struct State { public int Socket; public long Bytes; }
            }

            [SlabCache(Flags = SlabFlags.HwCacheAlign)]
            public partial record struct Request(int Id, long Started);
        }
        """);

    [Fact]
    public void A_checked_struct_with_debug_flags() => Check(nameof(A_checked_struct_with_debug_flags), """
        using SlabGen;

        namespace Game;

        [SlabCache(Checked = true, Flags = SlabFlags.HwCacheAlign | SlabFlags.RedZone | SlabFlags.ConsistencyChecks)]
        public partial struct Entity
        {
            public int Id;
            public Entity(int id) => Id = id;
        }
        """);

    [Fact]
    public void Constructors_keep_ref_in_out_params_and_default_values() => Check(nameof(Constructors_keep_ref_in_out_params_and_default_values), """
        using System;
        using SlabGen;

        namespace Shapes;

        public enum Kind : short { Circle = 1, Square = -2 }

        [SlabCache]
        public partial struct Shape
        {
            public int A;
            public float B;

            public Shape(ref int a, in float b, out int copied) { A = a; B = b; copied = a; a = 0; }
            public Shape(ref readonly int a) { A = a; B = 0; }
            public Shape(int flags, params int[] more) { A = flags + more.Length; B = 0; }
            public Shape(Kind kind = Kind.Square, float scale = 1.5f, double d = double.NaN, decimal m = 2.5m, long l = -3,
                string? label = "a \"b\"", char c = '\n', Kind? maybe = null, DateTime when = default, uint u = 7, bool yes = true)
            { A = (int)kind + label!.Length + c + (maybe is null ? 0 : 1) + when.Day + (int)u + (yes ? 1 : 0); B = scale + (float)d + (float)m + l; }
            public Shape(int @class, int @event) { A = @class; B = @event; }
            internal Shape(long hidden) { A = (int)hidden; B = 0; }
        }
        """);

    private static void Check(string test, string source)
    {
        (GeneratorDriverRunResult result, Compilation output) = GeneratorHarness.Run(GeneratorHarness.Compilation(source));

        Assert.NotEmpty(result.GeneratedTrees);
        foreach (GeneratedSourceResult generated in result.Results.Single().GeneratedSources)
        {
            Baselines.Match(test, generated.HintName, generated.SourceText.ToString());
        }

        Assert.True(GeneratorHarness.Problems(output).Length == 0, GeneratorHarness.Problems(output));
    }
}
