using CsCheck;

namespace SlabGen.Tests.Slab;

/// <summary>Random alloc/free sequences over several caches against a model of the live objects.</summary>
public sealed unsafe class KmemCacheModelTests
{
    private const ulong Constructed = 0x5EED_5EED_5EED_5EED;

    private static void Construct(void* obj) => *(ulong*)obj = Constructed;

    [Fact]
    public void Random_allocs_and_frees_over_several_caches_keep_objects_disjoint_aligned_constructed_and_counted()
    {
        Gen.Select(Gen.Int[0, 2], Gen.Int[0, 2], Gen.Int[0, int.MaxValue]).Array[1, 400]
            .Sample(Run, iter: 60);
    }

    private static void Run((int Cache, int Kind, int Pick)[] operations)
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8L << 20 });
        KmemCache[] caches =
        [
            KmemCache.Create("model-24", 24, 0, pages: pages),
            KmemCache.Create("model-200-ctor", 200, 64, SlabFlags.None, &Construct, pages),
            KmemCache.Create("model-debug", 64, 0, SlabFlags.ConsistencyChecks | SlabFlags.Poison | SlabFlags.RedZone, pages: pages),
        ];
        var live = new SortedDictionary<nint, (int Cache, ulong Tag)>();
        ulong next = 1;
        foreach ((int c, int kind, int pick) in operations)
        {
            KmemCache cache = caches[c];
            var mine = live.Where(o => o.Value.Cache == c).ToList();
            if (kind < 2 || mine.Count == 0)
            {
                byte* obj = (byte*)cache.Alloc();
                Assert.True(obj != null);
                Assert.Equal(0u, (nuint)obj % cache.Align);
                if (c == 1)
                {
                    Assert.Equal(Constructed, *(ulong*)obj);
                }

                ulong tag = next++;
                *(ulong*)(obj + cache.ObjectSize - sizeof(ulong)) = tag;
                AssertDisjoint(live, caches, (nint)obj, cache.ObjectSize);
                live.Add((nint)obj, (c, tag));
            }
            else
            {
                nint obj = mine[pick % mine.Count].Key;
                Assert.Equal(live[obj].Tag, *(ulong*)((byte*)obj + cache.ObjectSize - sizeof(ulong)));
                cache.Free((void*)obj);
                live.Remove(obj);
            }

            for (int i = 0; i < caches.Length; i++)
            {
                long liveHere = live.Count(o => o.Value.Cache == i);
                long active = caches[i].ActiveObjects;
                Assert.InRange(active - liveHere, 0, caches[i].Limit); // the rest sit in this thread's array cache
                Assert.True(caches[i].TotalObjects >= active);
            }

            Assert.Equal(live.Count(o => o.Value.Cache == 2), caches[2].ActiveObjects); // debug caches cache nothing per thread
        }

        foreach ((nint obj, (int c, _)) in live)
        {
            caches[c].Free((void*)obj);
        }

        foreach (KmemCache cache in caches)
        {
            cache.Destroy();
        }

        pages.DrainPerThreadPages();
        Assert.Equal((long)pages.ArenaCount * 1024, pages.BuddyInfo().FreePages);
    }

    private static void AssertDisjoint(SortedDictionary<nint, (int Cache, ulong Tag)> live, KmemCache[] caches, nint obj, nuint size)
    {
        KeyValuePair<nint, (int Cache, ulong Tag)>? below = live.LastOrDefault(o => o.Key < obj) is { Key: not 0 } b ? b : null;
        KeyValuePair<nint, (int Cache, ulong Tag)>? above = live.FirstOrDefault(o => o.Key > obj) is { Key: not 0 } a ? a : null;
        Assert.False(live.ContainsKey(obj), $"0x{obj:x} handed out twice");
        Assert.True(below is null || below.Value.Key + (nint)caches[below.Value.Value.Cache].ObjectSize <= obj, "overlaps the object below");
        Assert.True(above is null || obj + (nint)size <= above.Value.Key, "overlaps the object above");
    }
}
