// A page allocator over caller memory: every page it hands out lies in the block, it never grows or gives memory back,
// caches and kmalloc run on it, and bad blocks are refused with the allocator count and other allocators unchanged.
using System.Runtime.InteropServices;
using SlabGen.Tests.Misuse;

namespace SlabGen.Tests.Pages;

public sealed unsafe class BorrowedMemoryTests
{
    private const nuint Section = 4 << 20;

    [Fact]
    public void An_aligned_block_gives_every_page_but_the_frames_and_each_lies_in_the_block()
    {
        byte* block = (byte*)NativeMemory.AlignedAlloc(4 * Section, Section);
        try
        {
            using (var pages = new PageAllocator(block, 4 * Section))
            {
                long framePages = (4 * 65600 + 4095) / 4096;
                Assert.Equal(4, pages.ArenaCount);
                Assert.Equal(0, pages.BytesFromOs);
                Assert.Equal((4 * 1024 - framePages) * 4096, pages.MaxBytes);
                var taken = TakeAll(pages);

                Assert.Equal(4 * 1024 - framePages, taken.Count);
                Assert.All(taken, b => Assert.InRange(b, (nint)block + (nint)(framePages * 4096), (nint)block + (nint)(4 * Section) - 4096));
                Assert.Equal(taken.Count, taken.Distinct().Count());
                Assert.True(pages.AllocPages(0, GfpFlags.Kernel | GfpFlags.NoWarn) == null); // no new arena: the block is the cap
                taken.ForEach(b => pages.FreePages((void*)b, 0));
                new Span<byte>(block + (framePages * 4096), 4096).Fill(0x5a);
                Assert.Equal(OperatingSystem.IsLinux() ? pages.MaxBytes : 0, pages.Trim()); // the free pages go back to the OS (Linux)
                Assert.Equal(4, pages.ArenaCount);                                          // the block stays the allocator's
                if (OperatingSystem.IsLinux())
                {
                    Assert.Equal(0, block[framePages * 4096]);                              // a discarded page reads zero
                }

                Assert.Equal((4 * 1024 - framePages) * 4096, pages.MaxBytes);
                void* merged = pages.AllocPages(8);
                Assert.True(merged != null);                                                // freed pages merged back into large blocks
                pages.FreePages(merged, 8); // the block may be freed only after a Dispose that finds nothing in use
            }

            Assert.True(KmemCache.CacheOf(block + (2 * Section)) == null);
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    [Fact]
    public void An_unaligned_block_spanning_sections_uses_its_whole_pages_only_and_runs_caches_and_kmalloc()
    {
        byte* raw = (byte*)NativeMemory.AlignedAlloc(3 * Section, Section);
        byte* block = raw + Section - 12_345;           // straddles a section boundary, not page-aligned
        nuint length = (2 * Section) - 1000;
        try
        {
            using var pages = new PageAllocator(block, length, new PageAllocatorOptions { PerThreadPages = 0 });
            Assert.Equal(3, pages.ArenaCount);
            using (KmemCache cache = KmemCache.Create("borrowed-objects", 200, 0, pages: pages))
            using (var kmalloc = new KmallocAllocator(pages, "borrowed"))
            {
                var objects = new nint[5000];
                Assert.Equal(objects.Length, cache.AllocBulk(objects));
                void* big = kmalloc.Kmalloc(100_000);
                void* small = kmalloc.Kmalloc(100);
                Assert.All(objects, o => Assert.InRange(o, (nint)block, (nint)(block + length) - 200));
                Assert.InRange((nint)big, (nint)block, (nint)(block + length) - 100_000);
                Assert.InRange((nint)small, (nint)block, (nint)(block + length) - 100);
                new Span<byte>(big, 100_000).Fill(7);
                cache.FreeBulk(objects);
                SlabGen.Kmem.Kfree(big);
                SlabGen.Kmem.Kfree(small);
                Usable.Check(cache);
            }

            var taken = TakeAll(pages);
            Assert.All(taken, b => Assert.True(b >= (nint)block && b + 4096 <= (nint)(block + length), $"page 0x{b:x} outside the block"));
            taken.ForEach(b => pages.FreePages((void*)b, 0));
        }
        finally
        {
            NativeMemory.AlignedFree(raw);
        }
    }

    [Fact]
    public void Bad_blocks_are_refused_and_the_allocator_already_over_a_block_keeps_working()
    {
        byte* raw = (byte*)NativeMemory.AlignedAlloc(Section, Section);
        try
        {
            Assert.Throws<ArgumentNullException>(() => new PageAllocator(null, 1 << 20));
            var tooSmall = Assert.Throws<ArgumentException>(() => new PageAllocator(raw, 16 * 4096));
            Assert.Contains("nothing would be left", tooSmall.Message, StringComparison.Ordinal);
            Assert.Throws<ArgumentException>(() => new PageAllocator(raw, Section, new PageAllocatorOptions { MaxBytes = 1 << 20 }));

            using var first = new PageAllocator(raw, Section / 2);
            var shared = Assert.Throws<ArgumentException>(() => new PageAllocator(raw + (Section / 2), Section / 2)); // same section
            Assert.Contains("another allocator", shared.Message, StringComparison.Ordinal);
            using var os = new PageAllocator();
            void* osPage = os.AllocPages(4);
            Assert.Throws<ArgumentException>(() => new PageAllocator(osPage, 16 * 4096 * 8));                          // SlabGen memory
            os.FreePages(osPage, 4);

            Usable.Check(first);
            Assert.Equal(1, first.ArenaCount);
        }
        finally
        {
            NativeMemory.AlignedFree(raw);
        }
    }

    [Fact]
    public void Two_threads_allocate_and_free_each_others_pages_with_checksums()
    {
        byte* block = (byte*)NativeMemory.AlignedAlloc(2 * Section, Section);
        try
        {
            using var pages = new PageAllocator(block, 2 * Section);
            var handoff = new System.Collections.Concurrent.ConcurrentQueue<nint>();
            long bad = 0;
            Stress.RunThreads(2, (self, barrier) =>
            {
                var random = new Random(self);
                for (int i = 0; i < 20_000; i++)
                {
                    int order = random.Next(3);
                    var page = (long*)pages.AllocPages(order, GfpFlags.Kernel | GfpFlags.NoWarn);
                    if (page != null)
                    {
                        page[0] = (long)page ^ order;
                        handoff.Enqueue((nint)page | order);
                    }

                    if ((page == null || handoff.Count > 200) && handoff.TryDequeue(out nint entry))
                    {
                        var other = (long*)(entry & ~4095);
                        if (other[0] != ((long)other ^ (entry & 4095)))
                        {
                            Interlocked.Increment(ref bad);
                        }

                        pages.FreePages(other, (int)(entry & 4095));
                    }
                }

                barrier.SignalAndWait();
            });
            while (handoff.TryDequeue(out nint entry))
            {
                pages.FreePages((void*)(entry & ~4095), (int)(entry & 4095));
            }

            Assert.Equal(0, bad);
            var all = TakeAll(pages);
            Assert.Equal(2 * 1024 - ((2 * 65600) + 4095) / 4096, all.Count);
            all.ForEach(b => pages.FreePages((void*)b, 0)); // a Dispose that found pages in use would keep using the block
        }
        finally
        {
            NativeMemory.AlignedFree(block);
        }
    }

    private static List<nint> TakeAll(PageAllocator pages)
    {
        pages.DrainPerThreadPages();
        var taken = new List<nint>();
        void* page;
        while ((page = pages.AllocPages(0, GfpFlags.Atomic | GfpFlags.NoWarn)) != null)
        {
            taken.Add((nint)page);
        }

        return taken;
    }
}
