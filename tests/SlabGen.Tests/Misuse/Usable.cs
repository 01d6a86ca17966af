namespace SlabGen.Tests.Misuse;

/// <summary>After a refused call: the allocator is fully usable and consistent.</summary>
internal static unsafe class Usable
{
    /// <summary>Allocates, fills, checks and frees <paramref name="count"/> objects; the cache holds no live object afterwards.</summary>
    public static void Check(KmemCache cache, int count = 300)
    {
        long liveBefore = cache.LiveObjects;
        var objects = new nint[count];
        for (int i = 0; i < count; i++)
        {
            var obj = (byte*)cache.Alloc();
            Assert.True(obj != null, $"{cache.Name}: allocation {i} failed");
            new Span<byte>(obj, (int)cache.ObjectSize).Fill((byte)i);
            objects[i] = (nint)obj;
        }

        Assert.Equal(count, objects.Distinct().Count());
        Assert.Equal(liveBefore + count, cache.LiveObjects);
        for (int i = 0; i < count; i++)
        {
            var span = new ReadOnlySpan<byte>((void*)objects[i], (int)cache.ObjectSize);
            Assert.True(span.IndexOfAnyExcept((byte)i) < 0, $"{cache.Name}: object {i} was overwritten");
            cache.Free((void*)objects[i]);
        }

        Assert.Equal(liveBefore, cache.LiveObjects);
    }

    /// <summary>Allocates and frees blocks of a few orders; every block is distinct and the free page count comes back.</summary>
    public static void Check(PageAllocator pages)
    {
        var blocks = new List<(nint Block, int Order)>();
        for (int order = 0; order <= 4; order++)
        {
            for (int i = 0; i < 4; i++)
            {
                void* block = pages.AllocPages(order);
                Assert.True(block != null, $"order-{order} allocation failed");
                *(int*)block = order;
                blocks.Add(((nint)block, order));
            }
        }

        foreach ((nint block, int order) in blocks)
        {
            Assert.Equal(order, *(int*)block);
            pages.FreePages((void*)block, order);
        }
    }
}
