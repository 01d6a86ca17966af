namespace SlabGen.Tests.Misuse;

/// <summary>
/// Byte-exact red zones on both sides: a write one byte past the end or before the start of an object of any size is
/// reported at that object's free, the neighbour is never affected, and a free object's zones are checked when it is
/// handed out again.
/// </summary>
public sealed unsafe class RedZoneTests
{
    public static TheoryData<int> Sizes()
    {
        var sizes = new TheoryData<int>();
        for (int size = 1; size <= 64; size++)
        {
            sizes.Add(size);
        }

        foreach (int size in new[] { 73, 107, 255, 1000, 4095, 5000 })
        {
            sizes.Add(size);
        }

        return sizes;
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void A_write_one_byte_past_the_end_is_reported_and_the_last_byte_is_not(int size)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("rz-right", (nuint)size, 0, SlabFlags.RedZone, null, pages);
        var ok = (byte*)cache.Alloc();
        ok[size - 1] = 7;
        cache.Free(ok);

        var obj = (byte*)cache.Alloc();
        obj[size] = 7;
        string message = Assert.Throws<InvalidOperationException>(() => cache.Free(obj)).Message;
        Assert.Contains("byte 0 past the end was 0x07", message);
        Assert.Contains($"overflow of the {size}-byte object", message);
        Assert.Equal(0, cache.LiveObjects);
        Usable.Check(cache, count: 20);
    }

    [Theory]
    [MemberData(nameof(Sizes))]
    public void A_write_one_byte_before_the_start_is_reported_at_that_object_and_its_neighbour_frees_cleanly(int size)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("rz-left", (nuint)size, 0, SlabFlags.RedZone, null, pages);
        var before = (byte*)cache.Alloc();
        var obj = (byte*)cache.Alloc();
        obj[-1] = 9;

        cache.Free(before);
        string message = Assert.Throws<InvalidOperationException>(() => cache.Free(obj)).Message;
        Assert.Contains("byte 1 before the start was 0x09", message);
        Assert.Contains("underflow", message);
        Assert.Equal(0, cache.LiveObjects);
        Usable.Check(cache, count: 20);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(41)]
    [InlineData(4095)]
    public void The_last_byte_of_the_right_zone_is_checked_too(int size)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("rz-far", (nuint)size, 0, SlabFlags.RedZone, null, pages);
        var obj = (byte*)cache.Alloc();
        int zone = ((size + 7) & ~7) + 8 - size;
        obj[size + zone - 1] = 1;
        Assert.Contains($"byte {zone - 1} past the end", Assert.Throws<InvalidOperationException>(() => cache.Free(obj)).Message);
        Usable.Check(cache, count: 5);
    }

    [Fact]
    public void A_free_objects_red_zone_written_after_free_is_reported_when_it_is_handed_out_again()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("rz-after-free", 41, 0, SlabFlags.RedZone, null, pages);
        var obj = (byte*)cache.Alloc();
        cache.Free(obj);
        obj[41] = 3;

        string message = Assert.Throws<InvalidOperationException>(() => cache.Alloc()).Message;
        Assert.Contains($"red zone of free object 0x{(nuint)obj:x} overwritten: byte 0 past the end was 0x03, expected 0xbb", message);
        Assert.True(cache.Alloc() == obj, "restored, it is handed out next");
        cache.Free(obj);
        Usable.Check(cache, count: 10);
    }

    [Fact]
    public void A_corrupted_free_pointer_is_reported_once_and_never_followed()
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("rz-freeptr", 40, 0, SlabFlags.Poison | SlabFlags.ConsistencyChecks, null, pages);
        var objects = Enumerable.Range(0, 3).Select(_ => (nint)cache.Alloc()).ToArray();
        cache.Free((void*)objects[2]);
        cache.Free((void*)objects[1]); // its free pointer leads to objects[2]
        *(nint*)((byte*)objects[1] + 40) = objects[0] + 3; // an overflow past object 1 into its free pointer

        string message = Assert.Throws<InvalidOperationException>(() => cache.Alloc()).Message;
        Assert.Contains($"freelist corrupted: the free pointer of free object 0x{(nuint)objects[1]:x}", message);
        Assert.Equal(1, cache.LiveObjects);

        var again = Enumerable.Range(0, 200).Select(_ => (nint)cache.Alloc()).ToArray();
        Assert.DoesNotContain(objects[0] + 3, again);
        Assert.All(again, p => Assert.Equal(0, p % 8));
        Assert.Equal(again.Length, again.Distinct().Count());
        Assert.DoesNotContain(objects[0], again);
        foreach (nint p in again)
        {
            cache.Free((void*)p);
        }

        cache.Free((void*)objects[0]);
        Assert.Equal(0, cache.LiveObjects);
        Usable.Check(cache, count: 50);
    }
}
