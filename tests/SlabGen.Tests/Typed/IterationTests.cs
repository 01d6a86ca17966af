// The typed game-loop API on generated caches of this project: foreach by reference, handles for loops that free,
// Reset per level with checked handles refused afterwards, Reserve then Atomic allocations. Each struct here is used by
// one test only, so the counts are exact.
namespace SlabGen.Tests.Typed;

public sealed unsafe class IterationTests
{
    [Fact]
    public void Foreach_by_reference_updates_every_live_object_in_place()
    {
        SlabRef<Mote>[] motes = [.. Enumerable.Range(0, 5000).Select(i => Mote.New(i))];
        for (int i = 0; i < motes.Length; i += 4)
        {
            Mote.Free(motes[i]);
        }

        int visited = 0;
        foreach (ref Mote mote in Mote.Cache)
        {
            mote.Value += 1_000_000;
            visited++;
        }

        Assert.Equal(motes.Length - ((motes.Length + 3) / 4), visited);
        for (int i = 1; i < motes.Length; i++)
        {
            if (i % 4 != 0)
            {
                Assert.Equal(i + 1_000_000, motes[i].Value.Value);
            }
        }

        Assert.Equal(visited, Mote.Cache.Reset());
        Assert.Equal(0, Mote.Cache.LiveObjects);
    }

    [Fact]
    public void A_loop_over_handles_frees_what_dies_and_Reset_makes_every_old_checked_handle_refused()
    {
        SlabRef<Unit>[] units = [.. Enumerable.Range(0, 3000).Select(i => Unit.New(i, hitPoints: i % 5))];

        int freed = 0;
        foreach (SlabRef<Unit> unit in Unit.Cache.Handles)
        {
            Assert.True(unit.IsChecked);
            if (unit.Value.HitPoints == 0)
            {
                Unit.Free(unit);
                freed++;
            }
        }

        Assert.Equal(600, freed);
        Assert.Equal(2400, Unit.Cache.LiveObjects);
        Assert.Throws<ObjectDisposedException>(() => units[0].Value); // freed in the loop
        Assert.Equal(1, units[1].Value.Id);

        Assert.Equal(2400, Unit.Cache.Reset());

        Assert.Equal(0, Unit.Cache.LiveObjects);
        Assert.All(units, static u => Assert.Throws<ObjectDisposedException>(() => u.Value));
        Assert.Throws<ObjectDisposedException>(() => Unit.Free(units[1])); // refused, the cache unchanged
        SlabRef<Unit> next = Unit.New(7, 1);
        Assert.Equal(7, next.Value.Id);
        Assert.Equal(1, Unit.Cache.LiveObjects);
        Unit.Free(next);
    }

    [Fact]
    public void Bulk_allocations_of_a_checked_struct_get_generations_and_bulk_frees_refuse_their_handles_afterwards()
    {
        var objects = new nint[500];
        Assert.Equal(objects.Length, Squad.Cache.AllocBulk(objects));

        var handles = new List<SlabRef<Squad>>();
        foreach (SlabRef<Squad> handle in Squad.Cache.Handles)
        {
            handles.Add(handle);
        }

        Assert.Equal(objects.Order(), handles.Select(static h => (nint)h.AsPointer()).Order());
        Assert.All(handles, static h => Assert.True(h.IsChecked));
        Assert.Equal(handles.Count, handles.Select(static h => h.Generation).Distinct().Count()); // every generation new
        long outside = 0;
        nint[] withForeign = [objects[0], (nint)(&outside), objects[1]];
        Assert.Throws<ArgumentException>(() => Squad.Cache.FreeBulk(withForeign));
        Assert.Equal(0, outside);                                      // the foreign word was not touched
        Assert.Throws<ObjectDisposedException>(() => handles.Single(h => (nint)h.AsPointer() == objects[0]).Value);

        Squad.Cache.FreeBulk(objects.AsSpan(1));
        Assert.All(handles, static h => Assert.Throws<ObjectDisposedException>(() => h.Value));
        Assert.Equal(0, Squad.Cache.LiveObjects);
    }

    [Fact]
    public void After_Reserve_Atomic_allocations_up_to_the_reserve_succeed_under_a_cap_and_Shrink_keeps_the_reserve()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8 << 20 });
        using KmemCache<Mote> cache = KmemCache<Mote>.Create("reserve-motes", pages: pages);
        Assert.True(cache.Alloc(GfpFlags.Atomic) == null); // a fresh cache: Atomic never takes memory

        long reserved = cache.Reserve(20_000);

        Assert.True(reserved >= 20_000 && reserved < 20_000 + cache.ObjectsPerSlab);
        Assert.Equal(reserved, cache.ReservedObjects);
        for (int round = 0; round < 3; round++)
        {
            var objects = new nint[20_000];
            Assert.Equal(objects.Length, cache.AllocBulk(objects, GfpFlags.Atomic));
            cache.FreeBulk(objects);
            cache.Shrink();
            Assert.True(cache.TotalObjects >= reserved);
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Reserve(10_000_000)); // beyond the cap: refused outright
        Assert.Equal(reserved, cache.ReservedObjects);                              // the reserve as it was
        Assert.Throws<ArgumentOutOfRangeException>(() => cache.Reserve(-1));
        using (InterruptContext.Enter())
        {
            Assert.Throws<InvalidOperationException>(() => cache.Reserve(1));
        }

        Assert.Equal(0, cache.Reserve(0));
        cache.Shrink();
        Assert.Equal(0, cache.TotalObjects);
    }
}

[SlabCache]
public partial struct Mote
{
    public long Value;

    public Mote(long value) => Value = value;
}

[SlabCache(Checked = true)]
public partial struct Squad
{
    public long Members;
}

[SlabCache(Checked = true)]
public partial struct Unit
{
    public long Id;
    public int HitPoints;

    public Unit(long id, int hitPoints)
    {
        Id = id;
        HitPoints = hitPoints;
    }
}
