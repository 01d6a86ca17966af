// kmalloc over a page allocator of one's own: its cap is a budget for the size caches and the large blocks alike,
// its memory is freed by the one Kfree from any thread, and misuse leaves it usable.
namespace SlabGen.Tests.Kmem;

public sealed unsafe class KmallocAllocatorTests
{
    private const long Cap = 4 << 20;

    [Fact]
    public void A_cap_on_its_page_allocator_bounds_every_size_class_and_memory_freed_is_available_again()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = Cap, PerThreadPages = 0 });
        using var kmalloc = new KmallocAllocator(pages, "capped");
        var held = new List<nint>();
        void* p;
        while ((p = kmalloc.Kmalloc(64, GfpFlags.NoWarn)) != null)
        {
            held.Add((nint)p);
        }

        // Everything came from the capped allocator: at most 4 MiB of 64-byte objects, and its arenas, not Shared's.
        Assert.InRange(held.Count * 64L, Cap / 2, Cap);
        Assert.All(held, h => Assert.Same(pages, PageAllocator.OwnerOf((void*)h)));
        Assert.Equal(Cap, pages.BytesFromOs);
        Assert.True(kmalloc.Kmalloc(100_000) == null, "a large block beyond the cap");
        Assert.True(kmalloc.Kmalloc(3000, GfpFlags.Atomic) == null, "another class beyond the cap");

        held.ForEach(h => SlabGen.Kmem.Kfree((void*)h));
        held.Clear();
        kmalloc.Dispose();
        // Its caches destroyed, every page of the capped allocator is free again.
        Assert.Equal(pages.BytesFromOs / PageAllocator.PageSize, pages.BuddyInfo().FreePages);
    }

    [Fact]
    public void Large_blocks_come_from_its_page_allocator_and_Kfree_gives_them_back_there()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = Cap, PerThreadPages = 0 });
        using var kmalloc = new KmallocAllocator(pages, "large");
        long free = FreePagesAfterFirstArena(pages, kmalloc);

        var block = (byte*)kmalloc.Kmalloc(100_000);
        Assert.True(block != null);
        Assert.Equal(free - 32, pages.BuddyInfo().FreePages);      // 100,000 bytes: an order-5 block of 32 pages
        Assert.Equal((nuint)(32 * PageAllocator.PageSize), SlabGen.Kmem.Ksize(block));
        new Span<byte>(block, 100_000).Fill(0x5a);

        SlabGen.Kmem.Kfree(block);

        Assert.Equal(free, pages.BuddyInfo().FreePages);
    }

    [Fact]
    public void Its_caches_are_named_after_it_in_slabinfo_and_leave_with_Dispose()
    {
        using var pages = new PageAllocator();
        var kmalloc = new KmallocAllocator(pages, "named");
        SlabGen.Kmem.Kfree(kmalloc.Kmalloc(200));

        Assert.Contains(SlabInfo.Snapshot(), static e => e.Name == "named-kmalloc-256");
        kmalloc.Dispose();

        Assert.DoesNotContain(SlabInfo.Snapshot(), static e => e.Name.StartsWith("named-", StringComparison.Ordinal));
        var error = Assert.Throws<ObjectDisposedException>(() => kmalloc.Kmalloc(8));
        Assert.Contains(nameof(KmallocAllocator), error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Krealloc_moves_into_its_own_memory_keeping_the_contents_and_Kcalloc_refuses_an_overflow()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = Cap });
        using var kmalloc = new KmallocAllocator(pages, "realloc");
        // From the shared allocator, zeroed: Zero on every call from the first, as krealloc asks, zeroes all past 48.
        var small = (byte*)SlabGen.Kmem.Kzalloc(48);
        for (int i = 0; i < 48; i++)
        {
            small[i] = (byte)i;
        }

        var grown = (byte*)kmalloc.Krealloc(small, 5000, GfpFlags.Zero);

        Assert.True(grown != null && grown != small);
        Assert.Same(pages, PageAllocator.OwnerOf(grown));
        Assert.True(Enumerable.Range(0, 48).All(i => grown[i] == i), "contents kept");
        Assert.True(new ReadOnlySpan<byte>(grown + 48, 5000 - 48).IndexOfAnyExcept((byte)0) < 0, "the added bytes are zero");
        Assert.Equal((nuint)6144, SlabGen.Kmem.Ksize(grown)); // kmalloc-6k
        SlabGen.Kmem.Kfree(grown);

        Assert.Throws<ArgumentOutOfRangeException>(() => kmalloc.Kcalloc(nuint.MaxValue / 2, 4));
        void* after = kmalloc.Kcalloc(10, 8);
        Assert.True(new ReadOnlySpan<byte>(after, 80).IndexOfAnyExcept((byte)0) < 0);
        SlabGen.Kmem.Kfree(after);
    }

    [Fact]
    public void Bad_input_is_refused_naming_the_problem_and_the_allocator_keeps_working()
    {
        using var pages = new PageAllocator();
        using var kmalloc = new KmallocAllocator(pages, "misuse");
        void* obj = kmalloc.Kmalloc(64);
        SlabGen.Kmem.Kfree(obj);

        Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Kfree(obj));                         // double free
        Assert.Throws<ArgumentException>(() => kmalloc.Kmalloc(64, GfpFlags.Kernel | GfpFlags.Atomic));
        Assert.Throws<ArgumentNullException>(() => new KmallocAllocator(null!, "x"));
        Assert.Throws<ArgumentException>(() => new KmallocAllocator(pages, ""));
        Assert.Throws<InvalidOperationException>(() => KmallocAllocator.Shared.Dispose());
        using (InterruptContext.Enter())
        {
            Assert.Throws<InvalidOperationException>(() => kmalloc.Kmalloc(64));               // may sleep
            void* atomic = kmalloc.Kmalloc(64, GfpFlags.Atomic);
            SlabGen.Kmem.Kfree(atomic);
        }

        var again = (long*)kmalloc.Kmalloc(64);
        *again = 42;
        Assert.Equal(42, *again);
        SlabGen.Kmem.Kfree(again);
    }

    [Fact]
    public void Two_threads_allocate_and_the_other_frees_with_checksums_intact()
    {
        using var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 16 << 20 });
        using var kmalloc = new KmallocAllocator(pages, "threads");
        const int Count = 20_000;
        var lanes = new System.Collections.Concurrent.BlockingCollection<(nint Memory, int Size, long Sum)>[2];
        lanes[0] = new(1024);
        lanes[1] = new(1024);
        long corrupted = 0;

        // Two producers and two consumers on threads of their own (no pool, so no starvation under a busy test run):
        // what one thread allocates, another frees.
        Thread[] threads =
        [
            .. Enumerable.Range(0, 2).Select(me => new Thread(() =>
            {
                var random = new Random(me + 1);
                for (int i = 0; i < Count; i++)
                {
                    int size = random.Next(1, 600) * (i % 50 == 0 ? 40 : 1);
                    var memory = (byte*)kmalloc.Kmalloc((nuint)size);
                    long sum = 0;
                    for (int b = 0; b < size; b++)
                    {
                        memory[b] = (byte)(b * 7 + i);
                        sum += memory[b];
                    }

                    lanes[1 - me].Add(((nint)memory, size, sum));
                }

                lanes[1 - me].CompleteAdding();
            })),
            .. Enumerable.Range(0, 2).Select(me => new Thread(() =>
            {
                foreach ((nint memory, int size, long sum) in lanes[me].GetConsumingEnumerable())
                {
                    long seen = 0;
                    for (int b = 0; b < size; b++)
                    {
                        seen += ((byte*)memory)[b];
                    }

                    if (seen != sum)
                    {
                        Interlocked.Increment(ref corrupted);
                    }

                    SlabGen.Kmem.Kfree((void*)memory);
                }
            })),
        ];
        Array.ForEach(threads, static t => t.Start());
        Assert.All(threads, static t => Assert.True(t.Join(TimeSpan.FromSeconds(60)), "a thread did not finish in 60 s"));

        Assert.Equal(0, corrupted);
        Assert.All(SlabInfo.Snapshot().Where(static e => e.Name.StartsWith("threads-", StringComparison.Ordinal)), static e => Assert.Equal(0, e.LiveObjects));
    }

    /// <summary>Makes the allocator take its first arena, then gives the probe back: the free pages from then on.</summary>
    private static long FreePagesAfterFirstArena(PageAllocator pages, KmallocAllocator kmalloc)
    {
        SlabGen.Kmem.Kfree(kmalloc.Kmalloc(100_000));
        return pages.BuddyInfo().FreePages;
    }
}
