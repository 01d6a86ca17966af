// [SlabCache(Checked = true)]: a handle whose object was freed throws instead of touching the reused slot.
namespace SlabGen.Tests.Typed;

[Collection(GeneratedCaches.Collection)]
public sealed unsafe class CheckedHandleTests
{
    [Fact]
    public void Value_of_a_freed_handle_throws()
    {
        SlabRef<Entity> entity = Entity.New(1);
        Entity.Free(entity);

        var error = Assert.Throws<ObjectDisposedException>(() => entity.Value.Id);
        Assert.Contains("Entity", error.Message, StringComparison.Ordinal);
        Assert.Throws<ObjectDisposedException>(() => (nint)entity.AsPointer());
    }

    [Fact]
    public void A_double_free_throws_and_the_cache_still_works()
    {
        SlabRef<Entity> entity = Entity.New(2);
        Entity.Free(entity);
        long active = Entity.Cache.ActiveObjects;

        Assert.Throws<ObjectDisposedException>(() => Entity.Free(entity));

        Assert.Equal(active, Entity.Cache.ActiveObjects);
        SlabRef<Entity> a = Entity.New(3);
        SlabRef<Entity> b = Entity.New(4);
        Assert.NotEqual((nint)a.AsPointer(), (nint)b.AsPointer());
        Assert.Equal((3, 4), (a.Value.Id, b.Value.Id));
        Entity.Free(a);
        Entity.Free(b);
    }

    [Fact]
    public void A_stale_handle_to_a_reused_slot_throws_while_the_new_handle_works()
    {
        SlabRef<Entity> old = Entity.New(5);
        Entity.Free(old);
        SlabRef<Entity> reused = Entity.New(6);

        Assert.Equal((nint)old.AsPointerUnchecked(), (nint)reused.AsPointer());
        Assert.Throws<ObjectDisposedException>(() => old.Value.Id);
        Assert.Throws<ObjectDisposedException>(() => Entity.Free(old));
        Assert.Equal(6, reused.Value.Id);
        Assert.True(reused.IsChecked && old != reused);
        Entity.Free(reused);
    }

    [Fact]
    public void A_checked_cache_keeps_its_slabs_so_stale_handles_stay_readable()
    {
        var entities = Enumerable.Range(0, 2_000).Select(i => Entity.New(i)).ToArray();
        Array.ForEach(entities, Entity.Free);

        Assert.Equal(0, Entity.Cache.Shrink());
        Assert.All(entities, e => Assert.Throws<ObjectDisposedException>(() => e.Value.Id));
    }
}

internal static unsafe class SlabRefTestExtensions
{
    /// <summary>The address a handle holds, without its check: to show two handles name the same slot.</summary>
    public static T* AsPointerUnchecked<T>(this SlabRef<T> handle)
        where T : unmanaged => handle.RawPointer;
}
