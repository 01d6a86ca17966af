// The attributes the [SlabCache] source generator reads. They live in the runtime assembly, not in generated
// code, so two projects that both use the generator never see two copies of them.
namespace SlabGen;

/// <summary>
/// Gives an unmanaged <see langword="partial"/> struct its own slab cache: the SlabGen source generator adds
/// <c>Cache</c>, <c>Alloc</c>, one <c>New</c> per public constructor and <c>Free</c> to the struct, with a
/// per-type thread-local fast path. See docs/generator.md.
/// </summary>
/// <example>
/// <code>
/// [SlabCache(Name = "particle", Align = 64)]
/// public partial struct Particle { public Vector3 Position, Velocity; }
///
/// SlabRef&lt;Particle&gt; p = Particle.Alloc();
/// p.Value.Position = Vector3.One;
/// Particle.Free(p);
/// </code>
/// </example>
[AttributeUsage(AttributeTargets.Struct, Inherited = false, AllowMultiple = false)]
public sealed class SlabCacheAttribute : Attribute
{
    /// <summary>The cache's name in slabinfo; when not set, the struct's name with its namespace and containing types (<c>Game.World.Particle</c>).</summary>
    public string? Name { get; set; }

    /// <summary>
    /// The object alignment in bytes: a power of two, at least the struct's natural alignment, at most 4096.
    /// 0 (the default) means 64 under <see cref="SlabFlags.HwCacheAlign"/>, else the struct's natural alignment.
    /// </summary>
    public int Align { get; set; }

    /// <summary>Alignment and debug options of the cache.</summary>
    public SlabFlags Flags { get; set; }

    /// <summary>
    /// Generation-checked handles: <see cref="SlabRef{T}.Value"/> or <c>Free</c> on a handle whose object was
    /// freed throws <see cref="ObjectDisposedException"/> instead of touching reused memory. Costs 8 bytes per
    /// object (plus padding to the alignment), a compare on every access, a thread-local counter on every
    /// allocation, and the cache keeps its slabs (its memory never shrinks below its high-water mark).
    /// </summary>
    public bool Checked { get; set; }
}

/// <summary>
/// Marks <c>static void M(ref T obj)</c> in a <see cref="SlabCacheAttribute"/> struct as the cache's constructor:
/// it runs on every object when a slab is populated, not on every allocation, so objects are cached in their
/// constructed state and <c>Alloc</c> hands them out as they were freed (Bonwick 1994).
/// </summary>
[AttributeUsage(AttributeTargets.Method, Inherited = false, AllowMultiple = false)]
public sealed class SlabConstructorAttribute : Attribute
{
}

/// <summary>A slab constructor over a typed object: run once per object when its slab is populated.</summary>
/// <typeparam name="T">The object type.</typeparam>
/// <param name="obj">The object to bring into its constructed state.</param>
public delegate void ObjectConstructor<T>(ref T obj)
    where T : unmanaged;
