// One collection's measurements, as EventPipe writes them, into one snapshot.
namespace SlabGen.Top.Tests;

public sealed class SnapshotBuilderTests
{
    [Fact]
    public void Cache_measurements_become_one_row_per_cache_and_page_measurements_the_pages()
    {
        var builder = new SnapshotBuilder();
        foreach ((string cache, long scale) in (ReadOnlySpan<(string, long)>)[("particle", 1), ("kmalloc-64", 10)])
        {
            string tags = "slabgen.cache.name=" + cache;
            builder.Add("slabgen.cache.objects.live", tags, 5 * scale);
            builder.Add("slabgen.cache.objects.active", tags, 7 * scale);
            builder.Add("slabgen.cache.objects.total", tags, 9 * scale);
            builder.Add("slabgen.cache.objects.cached", tags, 2 * scale);
            builder.Add("slabgen.cache.slot_size", tags, 64);
            builder.Add("slabgen.cache.slabs", tags, scale);
            builder.Add("slabgen.cache.size", tags, 4096 * scale);
        }

        builder.Add("slabgen.pages.free_blocks", "slabgen.pages.order=0", 3);
        builder.Add("slabgen.pages.free_blocks", "slabgen.pages.order=10", 2);
        builder.Add("slabgen.pages.arenas", "", 4);
        builder.Add("slabgen.pages.os_bytes", "", 16 << 20);
        builder.Add("slabgen.pages.per_thread_pages", "", 6);
        builder.Add("slabgen.vmalloc.areas", "", 1);
        builder.Add("slabgen.vmalloc.size", "", 1 << 20);
        builder.Add("slabgen.sample.allocations", "", 12);
        builder.Add("slabgen.sample.in_use", "", 3);
        builder.Add("slabgen.sample.slots", "", 255);
        builder.Add("slabgen.sample.errors", "", 1);
        builder.Add("slabgen.something.new", "", 99);

        Snapshot snapshot = builder.Build(DateTimeOffset.UnixEpoch);

        CacheRow kmalloc = Assert.Single(snapshot.Caches, static c => c.Name == "kmalloc-64");
        Assert.Equal(new CacheRow("kmalloc-64", 50, 70, 90, 20, 64, 10, 40960), kmalloc);
        Assert.Equal(new CacheRow("particle", 5, 7, 9, 2, 64, 1, 4096), Assert.Single(snapshot.Caches, static c => c.Name == "particle"));
        Assert.Equal([3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2], snapshot.Pages.FreeBlocks);
        Assert.Equal(3 + 2 * 1024, snapshot.Pages.FreePages);
        Assert.Equal((4, 16L << 20, 6), (snapshot.Pages.Arenas, snapshot.Pages.OsBytes, snapshot.Pages.PerThreadPages));
        Assert.Equal(new VmallocView(1, 1 << 20), snapshot.Vmalloc);
        Assert.Equal(new SamplingView(12, 3, 255, 1), snapshot.Sampling);
        Assert.True(snapshot.Sampling.Enabled);
    }

    [Fact]
    public void Building_starts_the_next_collection_empty()
    {
        var builder = new SnapshotBuilder();
        builder.Add("slabgen.cache.objects.total", "slabgen.cache.name=a", 1);
        builder.Add("slabgen.pages.free_blocks", "slabgen.pages.order=2", 5);
        Assert.True(builder.HasValues);

        builder.Build(DateTimeOffset.UnixEpoch);
        Snapshot next = builder.Build(DateTimeOffset.UnixEpoch);

        Assert.False(builder.HasValues);
        Assert.Empty(next.Caches);
        Assert.False(next.Sampling.Enabled); // a process that does not sample publishes no sampling instruments
        Assert.All(next.Pages.FreeBlocks, static b => Assert.Equal(0, b));
    }

    [Fact]
    public void Page_measurements_tagged_with_an_allocator_become_one_view_per_allocator_the_shared_one_first()
    {
        var builder = new SnapshotBuilder();
        builder.Add("slabgen.pages.arenas", "slabgen.pages.name=particles,slabgen.pages.allocator=7", 2);
        builder.Add("slabgen.pages.free_blocks", "slabgen.pages.name=particles,slabgen.pages.allocator=7,slabgen.pages.order=3", 4);
        builder.Add("slabgen.pages.arenas", "slabgen.pages.name=shared,slabgen.pages.allocator=1", 1);
        builder.Add("slabgen.pages.os_bytes", "slabgen.pages.name=shared,slabgen.pages.allocator=1", 4 << 20);
        builder.Add("slabgen.pages.arenas", "slabgen.pages.name=kestrel-pool,slabgen.pages.allocator=5", 0);
        builder.Add("slabgen.pages.free_blocks", "slabgen.pages.name=kestrel-pool,slabgen.pages.allocator=5,slabgen.pages.order=10", 3);

        Snapshot snapshot = builder.Build(DateTimeOffset.UnixEpoch);

        Assert.Equal(["shared", "kestrel-pool #5", "particles #7"], snapshot.PageAllocators.Select(static p => p.Label));
        Assert.Equal((1, 4L << 20), (snapshot.Pages.Arenas, snapshot.Pages.OsBytes));
        PagesView particles = snapshot.PageAllocators[2];
        Assert.Equal((2, 4 << 3), (particles.Arenas, particles.FreePages));
        Assert.Equal(3 * 1024, snapshot.PageAllocators[1].FreePages);
        Assert.All(snapshot.Pages.FreeBlocks, static b => Assert.Equal(0, b)); // one allocator's blocks are not another's
    }

    [Theory]
    [InlineData("slabgen.cache.name=particle", "slabgen.cache.name", "particle")]
    [InlineData("a=1,slabgen.cache.name=x=y", "slabgen.cache.name", "x=y")]
    [InlineData("slabgen.cache.names=p", "slabgen.cache.name", null)]
    [InlineData("", "slabgen.cache.name", null)]
    public void Tags_are_read_from_EventPipe_s_list(string tags, string key, string? expected) =>
        Assert.Equal(expected, SnapshotBuilder.Tag(tags, key));

    [Fact]
    public void Free_blocks_of_an_order_out_of_range_are_ignored()
    {
        var builder = new SnapshotBuilder();
        builder.Add("slabgen.pages.free_blocks", "slabgen.pages.order=11", 5);
        builder.Add("slabgen.pages.free_blocks", "slabgen.pages.order=-1", 5);

        Assert.Equal(0, builder.Build(DateTimeOffset.UnixEpoch).Pages.FreePages);
    }
}
