using System.Numerics;

namespace SlabGen.Tests.Slab;

public sealed unsafe class KmemCacheOfTTests
{
    private struct Particle
    {
        public Vector3 Position;
        public Vector3 Velocity;
        public long Born;
    }

    private struct Tiny
    {
        public byte Value;
    }

    private static void Spawn(Particle* p) => p->Born = -1;

    [Fact]
    public void A_typed_cache_sizes_and_aligns_for_the_struct_and_runs_its_constructor()
    {
        // A private allocator: memory-pressure trims of PageAllocator.Shared after a collection would move parked objects.
        using var pages = new PageAllocator();
        using KmemCache<Particle> cache = KmemCache<Particle>.Create("particle", &Spawn, SlabFlags.None, pages, 0);
        Assert.Equal((nuint)sizeof(Particle), cache.Cache.ObjectSize);
        Assert.Equal((nuint)8, KmemCache<Particle>.NaturalAlignment);
        Assert.Equal((nuint)1, KmemCache<Tiny>.NaturalAlignment);

        Particle* p = cache.Alloc();
        Assert.Equal(-1, p->Born);
        Assert.Equal(0, (nint)p % 8);
        p->Position = new Vector3(1, 2, 3);
        p->Velocity = p->Position;
        Assert.Equal(1, cache.LiveObjects);
        Assert.Equal(cache.Cache.CachedObjects + 1, cache.ActiveObjects);
        p->Born = -1;
        cache.Free(p);
    }

    [Fact]
    public void A_typed_cache_honours_an_explicit_alignment()
    {
        using KmemCache<Tiny> cache = KmemCache<Tiny>.Create("tiny", SlabFlags.None, align: 256);
        var objects = Enumerable.Range(0, 40).Select(_ => (nint)cache.Alloc()).ToList();
        Assert.All(objects, o => Assert.Equal(0, o % 256));
        objects.ForEach(o => ((Tiny*)o)->Value = 7);
        Assert.All(objects, o => Assert.Equal(7, ((Tiny*)o)->Value));
        objects.ForEach(o => cache.Free((Tiny*)o));
    }
}
