// src/Contract/Contract.cs against the built runtime: the generator, the analyzers and the code fixes compile the same
// file, so each name and number they rely on is checked here once, by reflection over SlabGen.dll.
using System.Reflection;

namespace SlabGen.Tests;

public sealed class ContractTests
{
    private static readonly Assembly s_runtime = typeof(KmemCache).Assembly;

    [Theory]
    [InlineData(Contract.SlabCacheAttribute)]
    [InlineData(Contract.SlabConstructorAttribute)]
    [InlineData(Contract.InterruptContextAttribute)]
    [InlineData(Contract.MaySleepAttribute)]
    [InlineData(Contract.AmortizedAttribute)]
    [InlineData(Contract.InterruptContext)]
    [InlineData(Contract.Kmem)]
    [InlineData(Contract.GfpFlags)]
    [InlineData(Contract.SlabFlags)]
    [InlineData(Contract.KmemCacheOfT)]
    [InlineData(Contract.SlabRefOfT)]
    [InlineData(Contract.SlabThreadCacheOfT)]
    [InlineData(Contract.TypeCacheOfT)]
    public void Every_metadata_name_is_a_public_type_of_the_runtime(string name)
    {
        Type? type = s_runtime.GetType(name);

        Assert.True(type is { IsPublic: true }, $"{name} is not a public type of {s_runtime.GetName().Name}");
    }

    [Fact]
    public void SlabFlags_names_and_values_are_the_runtime_enum_s()
    {
        string[] names = [.. Enum.GetNames<SlabFlags>().Where(static n => n != nameof(SlabFlags.None))];

        Assert.Equal(names, Contract.SlabFlagNames);
        Assert.Equal(names.Select(static n => (uint)Enum.Parse<SlabFlags>(n)), Contract.SlabFlagValues);
    }

    [Fact]
    public unsafe void The_largest_slab_object_is_the_one_the_analyzer_allows_and_no_larger()
    {
        // SLAB008 refuses a [SlabCache] struct above MaxSlabBytes: the runtime must take exactly that much.
        KmemCache largest = KmemCache.Create("contract-largest", (nuint)Contract.MaxSlabBytes, 0);
        Assert.Equal((1, PageAllocator.MaxOrder), (largest.ObjectsPerSlab, largest.SlabOrder));
        largest.Destroy();

        Assert.Throws<ArgumentOutOfRangeException>(() => KmemCache.Create("contract-too-large", (nuint)Contract.MaxSlabBytes + 1, 0));
    }

    [Fact]
    public unsafe void The_largest_alignment_is_a_page()
    {
        // SLAB004 allows Align up to the page size.
        KmemCache aligned = KmemCache.Create("contract-page-aligned", 8, (nuint)Contract.PageSize);
        void* obj = aligned.Alloc();
        Assert.Equal(0u, (nuint)obj % (nuint)Contract.PageSize);
        aligned.Free(obj);
        aligned.Destroy();

        Assert.Throws<ArgumentException>(() => KmemCache.Create("contract-over-aligned", 8, 2 * (nuint)Contract.PageSize));
    }

    [Fact]
    public unsafe void The_largest_kmalloc_class_is_served_by_a_slab_and_one_byte_more_by_pages()
    {
        // The Vmalloc-to-Kmalloc code fix offers Kmalloc up to this size.
        void* cached = SlabGen.Kmem.Kmalloc((nuint)Contract.KmallocMaxCacheSize);
        void* pages = SlabGen.Kmem.Kmalloc((nuint)Contract.KmallocMaxCacheSize + 1);
        try
        {
            Assert.True(SlabPage.IsSlab(PageAllocator.HeadFrameOf(cached)));
            Assert.Equal((nuint)Contract.KmallocMaxCacheSize, SlabGen.Kmem.Ksize(cached));
            Assert.Equal(LargeKmalloc.OwnerTag, PageAllocator.HeadFrameOf(pages)->OwnerTag);
        }
        finally
        {
            SlabGen.Kmem.Kfree(cached);
            SlabGen.Kmem.Kfree(pages);
        }
    }

    [Fact]
    public void The_members_the_analyzers_look_for_by_name_exist()
    {
        Assert.NotNull(typeof(GfpFlags).GetField(Contract.AtomicFlag));
        Assert.NotNull(typeof(GfpFlags).GetField(Contract.KernelFlag));
        Assert.Contains(typeof(InterruptContext).GetMethods(BindingFlags.Public | BindingFlags.Static), static m => m.Name == Contract.InterruptContextEnter);
    }

    [Fact]
    public void The_vmalloc_methods_exist_and_are_marked_may_sleep()
    {
        foreach (string name in Contract.VmallocMethods)
        {
            MethodInfo[] methods = [.. typeof(SlabGen.Kmem).GetMethods(BindingFlags.Public | BindingFlags.Static).Where(m => m.Name == name)];

            Assert.NotEmpty(methods);
            Assert.All(methods, static m => Assert.NotNull(m.GetCustomAttribute<MaySleepAttribute>()));
        }
    }
}
