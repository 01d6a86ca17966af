namespace SlabGen.Tests.Kmem;

using Kmem = SlabGen.Kmem;

public sealed unsafe class VmallocTests
{
    [Fact]
    public void Vmalloc_gives_page_aligned_memory_listed_in_vmallocinfo_with_its_caller()
    {
        byte* area = (byte*)Kmem.Vmalloc(10_000);
        Assert.Equal(0, (nint)area % 4096);
        area[9_999] = 1;
        Assert.True(PageAllocator.HeadFrameOf(area) == null, "vmalloc memory is outside the buddy arenas");

        string line = Assert.Single(Kmem.VmallocInfo().Split('\n'), l => l.StartsWith($"0x{(nuint)area:x16}-", StringComparison.Ordinal));
        Assert.Equal(
            $"0x{(nuint)area:x16}-0x{(nuint)area + 12288:x16}   12288 {nameof(Vmalloc_gives_page_aligned_memory_listed_in_vmallocinfo_with_its_caller)}+VmallocTests.cs:10 pages=3 vmalloc",
            line);

        Kmem.Vfree(area);
        Assert.DoesNotContain($"0x{(nuint)area:x16}-", Kmem.VmallocInfo());
    }

    [Fact]
    public void Vzalloc_zeroes_and_a_size_of_zero_gives_null()
    {
        byte* area = (byte*)Kmem.Vzalloc(5000);
        Assert.True(new ReadOnlySpan<byte>(area, 5000).IndexOfAnyExcept((byte)0) < 0);
        Kmem.Vfree(area);
        Assert.True(Kmem.Vmalloc(0) == null);
        Kmem.Vfree(null);
    }

    [Fact]
    public void Vfree_refuses_pointers_that_are_not_live_areas()
    {
        byte* area = (byte*)Kmem.Vmalloc(4096);
        Assert.Contains("not a live vmalloc area", Assert.Throws<ArgumentException>(() => Kmem.Vfree(area + 8)).Message);
        Kmem.Vfree(area);
        Assert.Contains("already freed", Assert.Throws<ArgumentException>(() => Kmem.Vfree(area)).Message);

        byte* again = (byte*)Kmem.Vmalloc(4096);
        Assert.True(again != null);
        Kmem.Vfree(again);
    }

    [Fact]
    public void Kvmalloc_uses_kmalloc_when_it_can_and_vmalloc_beyond_it()
    {
        void* small = Kmem.Kvmalloc(1000);
        Assert.True(PageAllocator.HeadFrameOf(small) != null);
        void* huge = Kmem.Kvmalloc(5 * 1024 * 1024, GfpFlags.Kernel | GfpFlags.Zero);
        Assert.True(PageAllocator.HeadFrameOf(huge) == null);
        Assert.Contains($"0x{(nuint)huge:x16}-", Kmem.VmallocInfo());
        Assert.Equal(0, ((byte*)huge)[5 * 1024 * 1024 - 1]);
        Assert.True(Kmem.Kvmalloc(5 * 1024 * 1024, GfpFlags.Atomic) == null, "Atomic never falls back to vmalloc");

        Kmem.Kvfree(small);
        Kmem.Kvfree(huge);
        Assert.DoesNotContain($"0x{(nuint)huge:x16}-", Kmem.VmallocInfo());
    }
}
