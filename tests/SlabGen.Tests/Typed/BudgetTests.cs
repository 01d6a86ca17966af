// Budgets: the caches of [SlabCache] structs over a capped allocator (per struct, per assembly, before first use),
// PageAllocator.Shared capped by runtimeconfig or the environment. Settings that touch PageAllocator.Shared or a whole
// assembly run in a child process, where nothing was used yet.
namespace SlabGen.Tests.Typed;

public sealed unsafe class BudgetTests
{
    [Fact]
    public void A_struct_given_a_capped_allocator_before_first_use_allocates_within_it_and_the_setting_is_then_fixed()
    {
        var budget = new PageAllocator(new PageAllocatorOptions { MaxBytes = 4 << 20 });
        SlabCaches.UsePages<Budgeted>(budget);
        Assert.Same(budget, SlabCaches.PagesFor(typeof(Budgeted)));

        var taken = new List<SlabRef<Budgeted>>();
        while (Budgeted.TryNew(taken.Count, out SlabRef<Budgeted> obj))
        {
            taken.Add(obj);
        }

        Assert.Same(budget, Budgeted.Cache.Cache.Pages);
        Assert.InRange(taken.Count * sizeof(Budgeted), (3 << 20) + (1 << 19), 4 << 20); // the 4 MiB budget, less slab leftovers
        Assert.All(taken, static (obj, i) => Assert.Equal(i, obj.Value.Id));
        Assert.Throws<SlabOutOfMemoryException>(() => Budgeted.New(-1));
        var late = Assert.Throws<InvalidOperationException>(() => SlabCaches.UsePages<Budgeted>(new PageAllocator()));
        Assert.Contains("exists already", late.Message, StringComparison.Ordinal);
        Assert.Same(budget, Budgeted.Cache.Cache.Pages);
        taken.ForEach(Budgeted.Free);
        Assert.True(Budgeted.TryNew(1, out SlabRef<Budgeted> again));
        Budgeted.Free(again);
    }

    [Fact]
    public void Bad_settings_are_refused_and_change_nothing()
    {
        using var disposed = new PageAllocator();
        disposed.Dispose();

        Assert.Throws<ArgumentNullException>(() => SlabCaches.UsePages<Unbudgeted>(null!));
        Assert.Throws<ObjectDisposedException>(() => SlabCaches.UsePages<Unbudgeted>(disposed));
        Assert.Throws<ArgumentNullException>(() => SlabCaches.UsePages(null!, PageAllocator.Shared));
        _ = Particle.Cache; // used by other tests too: may exist already, exists now
        var used = Assert.Throws<InvalidOperationException>(() => SlabCaches.UsePages(typeof(Particle).Assembly, new PageAllocator()));
        Assert.Contains("Particle", used.Message, StringComparison.Ordinal);
        Assert.Same(PageAllocator.Shared, SlabCaches.PagesFor(typeof(Unbudgeted)));
    }

    [Fact]
    public void An_assembly_setting_made_at_startup_serves_every_struct_of_the_assembly() => ChildProcess.Run(AssemblySetting);

    [Fact]
    public void The_shared_allocator_takes_its_cap_from_the_runtimeconfig_setting() => ChildProcess.Run(RuntimeConfigCap);

    [Fact]
    public void The_shared_allocator_takes_its_cap_from_the_environment_and_kmalloc_stays_within_it() =>
        ChildProcess.Run(EnvironmentCap, environment: (PageAllocator.SharedMaxBytesVariable, "8388608"));

    [Fact]
    public void A_cap_that_is_not_a_number_is_refused_with_its_name() =>
        ChildProcess.Run(BadCap, environment: (PageAllocator.SharedMaxBytesVariable, "256MB"));

    private static void AssemblySetting()
    {
        var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 16 << 20 });
        SlabCaches.UsePages(typeof(Particle).Assembly, pages);

        SlabRef<Particle> particle = Particle.New(new System.Numerics.Vector3(1, 2, 3), default);
        SlabRef<Entity> entity = Entity.New(5);

        Assert.Same(pages, Particle.Cache.Cache.Pages);
        Assert.Same(pages, Entity.Cache.Cache.Pages);
        Assert.Same(pages, KmemCache.CacheOf(particle.AsPointer())!.Pages);
        Assert.Equal(5, entity.Value.Id);
        Particle.Free(particle);
        Entity.Free(entity);
    }

    private static void RuntimeConfigCap()
    {
        AppContext.SetData(PageAllocator.SharedMaxBytesSetting, "12582912");
        Assert.Equal(12L << 20, PageAllocator.Shared.MaxBytes);
    }

    private static void EnvironmentCap()
    {
        Assert.Equal(8L << 20, PageAllocator.Shared.MaxBytes);
        var blocks = new List<nint>();
        void* block;
        while ((block = SlabGen.Kmem.Kmalloc(64 << 10, GfpFlags.Kernel | GfpFlags.NoWarn)) != null)
        {
            blocks.Add((nint)block);
        }

        Assert.InRange(blocks.Count, 100, 128); // 8 MiB of 64 KiB blocks, less what else the process took
        Assert.Equal(8L << 20, PageAllocator.Shared.BytesFromOs);
        blocks.ForEach(static b => SlabGen.Kmem.Kfree((void*)b));
    }

    private static void BadCap()
    {
        var error = Assert.Throws<TypeInitializationException>(() => PageAllocator.Shared);
        Assert.Contains(PageAllocator.SharedMaxBytesVariable, error.InnerException!.Message, StringComparison.Ordinal);
        Assert.Contains("256MB", error.InnerException.Message, StringComparison.Ordinal);
    }
}

[SlabCache]
public partial struct Budgeted
{
    public long Id;
    public long Payload;

    public Budgeted(long id)
    {
        Id = id;
        Payload = ~id;
    }
}

[SlabCache]
public partial struct Unbudgeted
{
    public long Value;
}
