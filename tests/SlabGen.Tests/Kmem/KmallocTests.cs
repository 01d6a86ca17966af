using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace SlabGen.Tests.Kmem;

using Kmem = SlabGen.Kmem;

public sealed unsafe class KmallocTests
{
    private static string CacheOf(void* memory) => KmemCache.CacheOf(memory)!.Name;

    [Theory]
    [InlineData(0, "kmalloc-8", 8)]
    [InlineData(1, "kmalloc-8", 8)]
    [InlineData(8, "kmalloc-8", 8)]
    [InlineData(9, "kmalloc-16", 16)]
    [InlineData(16, "kmalloc-16", 16)]
    [InlineData(17, "kmalloc-24", 24)]
    [InlineData(24, "kmalloc-24", 24)]
    [InlineData(25, "kmalloc-32", 32)]
    [InlineData(33, "kmalloc-48", 48)]
    [InlineData(48, "kmalloc-48", 48)]
    [InlineData(49, "kmalloc-64", 64)]
    [InlineData(64, "kmalloc-64", 64)]
    [InlineData(65, "kmalloc-96", 96)]
    [InlineData(96, "kmalloc-96", 96)]
    [InlineData(97, "kmalloc-128", 128)]
    [InlineData(129, "kmalloc-192", 192)]
    [InlineData(192, "kmalloc-192", 192)]
    [InlineData(193, "kmalloc-256", 256)]
    [InlineData(256, "kmalloc-256", 256)]
    [InlineData(257, "kmalloc-384", 384)]
    [InlineData(384, "kmalloc-384", 384)]
    [InlineData(385, "kmalloc-512", 512)]
    [InlineData(513, "kmalloc-768", 768)]
    [InlineData(700, "kmalloc-768", 768)]
    [InlineData(769, "kmalloc-1k", 1024)]
    [InlineData(1025, "kmalloc-1536", 1536)]
    [InlineData(1537, "kmalloc-2k", 2048)]
    [InlineData(2049, "kmalloc-3k", 3072)]
    [InlineData(3000, "kmalloc-3k", 3072)]
    [InlineData(3073, "kmalloc-4k", 4096)]
    [InlineData(4097, "kmalloc-6k", 6144)]
    [InlineData(6144, "kmalloc-6k", 6144)]
    [InlineData(6145, "kmalloc-8k", 8192)]
    [InlineData(8192, "kmalloc-8k", 8192)]
    public void Each_size_goes_to_the_smallest_class_that_holds_it(int size, string cache, int usable)
    {
        void* memory = Kmem.Kmalloc((nuint)size);
        Assert.Equal(cache, CacheOf(memory));
        Assert.Equal((nuint)usable, Kmem.Ksize(memory));
        new Span<byte>(memory, usable).Fill(0xAB); // the whole usable size is writable
        Kmem.Kfree(memory);
    }

    [Fact]
    public void Every_size_up_to_8_KiB_gets_the_smallest_class_that_holds_it_and_wastes_less_than_a_third_above_16()
    {
        nuint[] sizes = [.. KmallocCaches.Caches.Select(static c => c.ObjectSize)];
        for (nuint size = 0; size <= 8192; size++)
        {
            nuint need = Math.Max(size, 1);
            nuint slot = KmallocCaches.For(size).ObjectSize;
            Assert.True(slot >= need, $"{size} bytes went to a {slot}-byte class");
            Assert.True(sizes.Where(s => s < slot).All(s => s < need), $"{size} bytes went to {slot} though a smaller class holds it");
            if (size > 16)
            {
                Assert.True(slot - size < slot / 3 + 1, $"{size} bytes waste {slot - size} of a {slot}-byte slot");
            }
        }
    }

    [Theory]
    [InlineData(24, 8)]
    [InlineData(48, 16)]
    [InlineData(64, 64)]
    [InlineData(96, 32)]
    [InlineData(384, 128)]
    [InlineData(512, 512)]
    [InlineData(1536, 512)]
    [InlineData(6144, 2048)]
    [InlineData(4096, 4096)]
    public void Classes_are_aligned_to_their_largest_power_of_two_divisor(int size, int align)
    {
        var blocks = Enumerable.Range(0, 50).Select(_ => (nint)Kmem.Kmalloc((nuint)size)).ToList();
        Assert.All(blocks, b => Assert.Equal(0, b % align));
        blocks.ForEach(b => Kmem.Kfree((void*)b));
    }

    [Fact]
    public void Kmalloc_3k_slabs_are_64_KiB_of_21_objects_so_a_sixty_fourth_is_left_over()
    {
        KmemCache cache = KmallocCaches.For(3000);
        Assert.Equal((4, 21), (cache.SlabOrder, cache.ObjectsPerSlab)); // SLUB's rule gave order 3 with 10 (1/16 left over)
    }

    [Fact]
    public void Every_kmalloc_class_is_listed_in_slabinfo()
    {
        Kmem.Kfree(Kmem.Kmalloc(1));
        string[] names = ["kmalloc-8", "kmalloc-16", "kmalloc-24", "kmalloc-32", "kmalloc-48", "kmalloc-64", "kmalloc-96", "kmalloc-128", "kmalloc-192",
            "kmalloc-256", "kmalloc-384", "kmalloc-512", "kmalloc-768", "kmalloc-1k", "kmalloc-1536", "kmalloc-2k", "kmalloc-3k",
            "kmalloc-4k", "kmalloc-6k", "kmalloc-8k"];
        var listed = SlabInfo.Snapshot().Select(e => e.Name).ToHashSet();
        Assert.All(names, n => Assert.Contains(n, listed));
        Assert.Contains("\nkmalloc-8k ", SlabInfo.Format());
    }

    [Theory]
    [InlineData(8193, 2)]
    [InlineData(16384, 2)]
    [InlineData(100_000, 5)]
    [InlineData(4 * 1024 * 1024, 10)]
    public void Above_8_KiB_kmalloc_takes_a_block_of_ceil_log2_pages(int size, int order)
    {
        byte* memory = (byte*)Kmem.Kmalloc((nuint)size);
        ref readonly PageFrame head = ref PageAllocator.Shared.PageOf(memory);
        Assert.Equal((PageFlags.Head, LargeKmalloc.OwnerTag), (head.Flags, head.OwnerTag));
        Assert.Equal(order, head.Order);
        Assert.Equal((nuint)4096 << order, Kmem.Ksize(memory));
        Assert.Equal(0, (nint)memory % (4096 << order));
        memory[size - 1] = 1;
        Kmem.Kfree(memory);
        Assert.NotEqual(LargeKmalloc.OwnerTag, PageAllocator.Shared.PageOf(memory).OwnerTag);
    }

    [Fact]
    public void Beyond_4_MiB_kmalloc_returns_null()
    {
        Assert.True(Kmem.Kmalloc(Kmem.MaxKmallocSize + 1) == null);
        Assert.True(Kmem.Kmalloc(nuint.MaxValue) == null);
    }

    [Theory]
    [InlineData(64)]
    [InlineData(20_000)]
    public void Kzalloc_zeroes_memory_that_was_dirty(int size)
    {
        byte* dirty = (byte*)Kmem.Kmalloc((nuint)size);
        NativeMemory.Fill(dirty, (nuint)size, 0xFF);
        Kmem.Kfree(dirty);
        byte* clean = (byte*)Kmem.Kzalloc((nuint)size);
        Assert.True(clean == dirty, "the same memory comes back (LIFO), so the test sees the zeroing");
        Assert.True(new ReadOnlySpan<byte>(clean, size).IndexOfAnyExcept((byte)0) < 0);
        Kmem.Kfree(clean);
    }

    [Fact]
    public void Kcalloc_zeroes_and_refuses_an_overflowing_product()
    {
        byte* array = (byte*)Kmem.Kcalloc(10, 12);
        Assert.True(Kmem.Ksize(array) >= 120);
        Assert.True(new ReadOnlySpan<byte>(array, 120).IndexOfAnyExcept((byte)0) < 0);
        Kmem.Kfree(array);

        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Kmem.Kcalloc(nuint.MaxValue / 2, 3));
        Assert.Contains("size overflow", e.Message);
        AssertKmallocUsable();
    }

    [Fact]
    public void Krealloc_keeps_contents_across_classes_and_into_large_blocks()
    {
        byte* p = (byte*)Kmem.Kmalloc(50);
        for (int i = 0; i < 40; i++)
        {
            p[i] = (byte)i;
        }

        Assert.True(Kmem.Krealloc(p, 60) == p, "60 bytes still fit the 64-byte class: same pointer");
        byte* bigger = (byte*)Kmem.Krealloc(p, 1000);
        Assert.Equal("kmalloc-1k", CacheOf(bigger)); // 1000 bytes: past kmalloc-768
        byte* large = (byte*)Kmem.Krealloc(bigger, 50_000, GfpFlags.Kernel | GfpFlags.Zero);
        Assert.Equal((PageFlags.Head, LargeKmalloc.OwnerTag), (PageAllocator.Shared.PageOf(large).Flags, PageAllocator.Shared.PageOf(large).OwnerTag));
        for (int i = 0; i < 40; i++)
        {
            Assert.Equal((byte)i, large[i]);
        }

        Assert.True(new ReadOnlySpan<byte>(large + 1024, 50_000 - 1024).IndexOfAnyExcept((byte)0) < 0, "Zero clears the added bytes");
        Assert.True(Kmem.Krealloc(large, 0) == null);
        byte* fresh = (byte*)Kmem.Krealloc(null, 16);
        Assert.Equal("kmalloc-16", CacheOf(fresh));
        Kmem.Kfree(fresh);
    }

    [Fact]
    public void A_thread_that_only_frees_pushes_onto_its_own_array_cache_and_kmalloc_reuses_it()
    {
        var blocks = Enumerable.Range(0, 10).Select(_ => (nint)Kmem.Kmalloc(56)).ToArray();
        nint reused = 0;
        var thread = new Thread(() =>
        {
            // This thread has no kmalloc table yet: the first Kfree takes the slow path and makes it; the next ones
            // push onto the thread's kmalloc-64 array cache, from which its next kmalloc pops the hottest.
            foreach (nint block in blocks)
            {
                Kmem.Kfree((void*)block);
            }

            reused = (nint)Kmem.Kmalloc(64);
            Kmem.Kfree((void*)reused);
        });
        thread.Start();
        thread.Join();
        Assert.Equal(blocks[^1], reused);
        AssertKmallocUsable();
    }

    [Fact]
    public void Kfree_frees_an_object_of_an_ordinary_cache_into_that_cache()
    {
        using var cache = KmemCache.Create("kfree-ordinary-64", 64, 0);
        void* obj = cache.Alloc();
        Kmem.Kfree(obj);
        void* kmalloc64 = Kmem.Kmalloc(64);
        Assert.NotEqual((nint)obj, (nint)kmalloc64); // not pushed onto the kmalloc-64 array cache
        Assert.Equal((nint)obj, (nint)cache.Alloc()); // but onto this cache's
        Kmem.Kfree(kmalloc64);
        Kmem.Kfree(obj); // Dispose destroys the cache, which refuses while an object is live
    }

    [Fact]
    public void A_kmalloc_cache_refuses_to_be_destroyed()
    {
        void* memory = Kmem.Kmalloc(64);
        KmemCache cache = KmemCache.CacheOf(memory)!;
        Kmem.Kfree(memory);
        var refused = Assert.Throws<InvalidOperationException>(cache.Destroy);
        Assert.Contains("kmalloc-64", refused.Message);
        Assert.Contains("kmalloc size cache", refused.Message);
        AssertKmallocUsable();
    }

    // ---- bad input: a clear exception, nothing changed, kmalloc fully usable afterwards ----

    [Fact]
    public void Kfree_of_null_does_nothing_and_foreign_pointers_are_refused()
    {
        Kmem.Kfree(null);
        void* native = NativeMemory.Alloc(64);
        void* pageBlock = PageAllocator.Shared.AllocPages(0);
        try
        {
            Assert.Contains("not in any SlabGen arena", Assert.Throws<ArgumentException>(() => Kmem.Kfree(native)).Message);
            Assert.Contains("not a live kmalloc allocation", Assert.Throws<ArgumentException>(() => Kmem.Kfree(pageBlock)).Message);
            Assert.Equal(PageFlags.Head, PageAllocator.Shared.PageOf(pageBlock).Flags);
        }
        finally
        {
            NativeMemory.Free(native);
            PageAllocator.Shared.FreePages(pageBlock, 0);
        }

        AssertKmallocUsable();
    }

    [Fact]
    public void Kfree_and_Ksize_find_a_4_MiB_block_from_its_start_and_refuse_its_interior()
    {
        byte* block = (byte*)Kmem.Kmalloc(Kmem.MaxKmallocSize);
        Assert.True(block != null);
        Assert.Equal(Kmem.MaxKmallocSize, Kmem.Ksize(block));
        var interior = Assert.Throws<ArgumentException>(() => Kmem.Kfree(block + (3 << 20) + 8));
        Assert.Contains($"interior pointer: it is {(3 << 20) + 8} bytes into a 4194304-byte kmalloc block", interior.Message);
        Assert.Throws<ArgumentException>(() => PageAllocator.Shared.FreePages(block, PageAllocator.MaxOrder));
        block[Kmem.MaxKmallocSize - 1] = 7;
        Kmem.Kfree(block);
        var twice = Assert.Throws<ArgumentException>(() => Kmem.Kfree(block));
        Assert.Contains("already freed (double free)", twice.Message);
        byte* again = (byte*)Kmem.Kmalloc(Kmem.MaxKmallocSize);
        Assert.True(again != null);
        Kmem.Kfree(again);
    }

    [Fact]
    public void Kfree_refuses_an_interior_pointer_and_a_double_free_of_a_large_block()
    {
        byte* large = (byte*)Kmem.Kmalloc(30_000);
        var interior = Assert.Throws<ArgumentException>(() => Kmem.Kfree(large + 8192));
        Assert.Contains("interior pointer: it is 8192 bytes into a 32768-byte kmalloc block", interior.Message);
        Kmem.Kfree(large);

        var twice = Assert.Throws<ArgumentException>(() => Kmem.Kfree(large));
        Assert.Contains("double free", twice.Message);
        AssertKmallocUsable();
    }

    [Fact]
    public void Many_threads_with_random_sizes_and_cross_thread_frees_keep_contents_intact()
    {
        const int ThreadCount = 3;
        const int Operations = 30_000;
        var inboxes = Enumerable.Range(0, ThreadCount).Select(_ => new ConcurrentQueue<(nint Memory, int Size, byte Tag)>()).ToArray();
        long verified = 0;

        void Check((nint Memory, int Size, byte Tag) block)
        {
            int bad = new ReadOnlySpan<byte>((void*)block.Memory, block.Size).IndexOfAnyExcept(block.Tag);
            Assert.True(bad < 0, $"{block.Size}-byte block lost byte {bad}");
            Kmem.Kfree((void*)block.Memory);
            Interlocked.Increment(ref verified);
        }

        void Work(int self, Barrier barrier)
        {
            var random = new Random(100 + self);
            for (int i = 0; i < Operations; i++)
            {
                int size = random.Next(8) == 0 ? random.Next(8193, 40_000) : random.Next(0, 8193);
                byte tag = (byte)random.Next(1, 256);
                void* memory = Kmem.Kmalloc((nuint)size);
                Assert.True(memory != null);
                new Span<byte>(memory, size).Fill(tag);
                var block = ((nint)memory, size, tag);
                if (random.Next(2) == 0)
                {
                    inboxes[(self + 1) % ThreadCount].Enqueue(block);
                }
                else
                {
                    Check(block);
                }

                while (inboxes[self].TryDequeue(out var received))
                {
                    Check(received);
                }
            }

            barrier.SignalAndWait();
            while (inboxes[self].TryDequeue(out var received))
            {
                Check(received);
            }
        }

        Stress.RunThreads(ThreadCount, Work);
        Assert.Equal(ThreadCount * Operations, verified);
    }

    private static readonly int[] UsableSizes = [1, 64, 200, 5000, 8192, 9000, 70_000];

    internal static void AssertKmallocUsable()
    {
        var blocks = UsableSizes.Select(s => ((nint)Kmem.Kmalloc((nuint)s), s)).ToList();
        foreach ((nint memory, int size) in blocks)
        {
            Assert.True(memory != 0);
            new Span<byte>((void*)memory, size).Fill(7);
        }

        Assert.Equal(blocks.Count, blocks.Select(b => b.Item1).Distinct().Count());
        blocks.ForEach(b => Kmem.Kfree((void*)b.Item1));
    }
}
