namespace SlabGen.Tests.Misuse;

/// <summary>
/// Every size and layout computation of <see cref="KmemCache.Create"/> is checked: a size that cannot fit a slab of
/// order 10 with its padding and debug metadata is an ArgumentOutOfRangeException, never a loop, a division by zero
/// or a wrapped slot size. Run in a child process: before the checks, some of these hung or crashed the process.
/// </summary>
public sealed unsafe class SizeValidationTests
{
    private static readonly SlabFlags[] FlagSets =
    [
        SlabFlags.None,
        SlabFlags.HwCacheAlign,
        SlabFlags.RedZone,
        SlabFlags.StoreUser,
        SlabFlags.Poison,
        SlabFlags.Poison | SlabFlags.RedZone | SlabFlags.StoreUser | SlabFlags.ConsistencyChecks,
    ];

    private static readonly nuint[] TooBig =
    [
        ((nuint)1 << 63) + 1,
        nuint.MaxValue,
        nuint.MaxValue - 7,
        nuint.MaxValue - 4095,
        (nuint)1 << 32,
        (nuint)Arena.Bytes + 1,
    ];

    [Fact]
    public void Sizes_that_cannot_fit_a_slab_are_refused_with_every_flag_set_and_alignment() =>
        ChildProcess.Run(RefuseTooBig, TimeSpan.FromSeconds(60));

    private static void RefuseTooBig()
    {
        using var pages = new PageAllocator();
        foreach (SlabFlags flags in FlagSets)
        {
            foreach (nuint size in TooBig)
            {
                foreach (nuint align in new nuint[] { 0, 8, 64, 4096 })
                {
                    var error = Assert.Throws<ArgumentOutOfRangeException>(() => KmemCache.Create("too-big", size, align, flags, null, pages));
                    Assert.Equal("size", error.ParamName);
                    Assert.Contains("too big for a slab", error.Message);
                }
            }
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => KmemCache<Huge>.Create("huge-typed", pages: pages));
        Assert.Equal(0, pages.ArenaCount);
        AssertSmallCacheWorks(pages);
    }

    [Theory]
    [InlineData(SlabFlags.None, 0)]
    [InlineData(SlabFlags.RedZone, 24)]
    [InlineData(SlabFlags.Poison | SlabFlags.RedZone | SlabFlags.StoreUser, 24)]
    public void The_largest_object_that_fits_an_order_10_slab_with_its_metadata_works_and_one_byte_more_is_refused(SlabFlags flags, int metadata)
    {
        using var pages = new PageAllocator();
        nuint largest = Arena.Bytes - (nuint)metadata;
        Assert.Throws<ArgumentOutOfRangeException>(() => KmemCache.Create("largest+1", largest + 1, 0, flags, null, pages));

        using (KmemCache cache = KmemCache.Create("largest", largest, 0, flags, null, pages))
        {
            Assert.Equal(PageAllocator.MaxOrder, cache.SlabOrder);
            Assert.Equal(1, cache.ObjectsPerSlab);
            Usable.Check(cache, count: 2);
            cache.Shrink();
        }

        AssertSmallCacheWorks(pages);
    }

    [Fact]
    public void A_zero_size_and_a_bad_alignment_are_refused_and_nothing_is_left_behind()
    {
        using var pages = new PageAllocator();
        Assert.Equal("size", Assert.Throws<ArgumentOutOfRangeException>(() => KmemCache.Create("zero", 0, 0, pages: pages)).ParamName);
        Assert.Equal("align", Assert.Throws<ArgumentException>(() => KmemCache.Create("align-3", 64, 3, pages: pages)).ParamName);
        Assert.Equal("align", Assert.Throws<ArgumentException>(() => KmemCache.Create("align-8k", 64, 8192, pages: pages)).ParamName);
        Assert.Throws<ArgumentException>(() => KmemCache.Create("", 64, 0, pages: pages));

        Assert.DoesNotContain(SlabInfo.Snapshot(), entry => entry.Name is "zero" or "align-3" or "align-8k");
        AssertSmallCacheWorks(pages);
    }

    private static void AssertSmallCacheWorks(PageAllocator pages)
    {
        using KmemCache cache = KmemCache.Create("after-refusals", 48, 0, pages: pages);
        Usable.Check(cache);
        cache.Shrink();
    }

    private struct Huge
    {
#pragma warning disable CS0649 // only its size matters
        public FixedBuffer Data;
#pragma warning restore CS0649
    }

    [System.Runtime.CompilerServices.InlineArray(((int)Arena.Bytes / 8) + 1)]
    private struct FixedBuffer
    {
#pragma warning disable IDE0044, IDE0051 // the inline array's element
        private long _element;
#pragma warning restore IDE0044, IDE0051
    }
}
