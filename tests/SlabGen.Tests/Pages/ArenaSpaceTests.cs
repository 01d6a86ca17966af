using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using SlabGen.Tests.Misuse;

namespace SlabGen.Tests.Pages;

/// <summary>The arena space (Pages/ArenaSpace.cs): frames found by arithmetic, slots taken, released and reused.</summary>
public sealed unsafe class ArenaSpaceTests
{
    [Fact]
    public void On_Linux_arenas_from_the_OS_live_in_the_space_and_arithmetic_finds_the_same_frame_as_the_section_map()
    {
        Assert.Equal(OperatingSystem.IsLinux(), ArenaSpace.Bytes != 0);
        if (ArenaSpace.Bytes == 0)
        {
            return;
        }

        Assert.Equal(unchecked((nuint)ArenaSpace.Slots * Arena.Bytes), ArenaSpace.Bytes);
        Assert.Equal((nuint)0, ArenaSpace.Base % Arena.Bytes);
        using var pages = new PageAllocator();
        var block = (byte*)pages.AllocPages(3);
        try
        {
            Assert.True(ArenaSpace.Contains(block));
            for (int page = 0; page < 8; page++)
            {
                byte* address = block + (page * PageAllocator.PageSize) + 100;
                PageFrame* byArithmetic = ArenaSpace.FrameOf(address);
                Assert.True(byArithmetic == SectionMap.Find(address)->FrameOf(address), $"page {page}: two frames for one address");
                Assert.True(byArithmetic == (PageFrame*)System.Runtime.CompilerServices.Unsafe.AsPointer(ref System.Runtime.CompilerServices.Unsafe.AsRef(in pages.PageOf(address))));
                Assert.True(byArithmetic->Address == block + (page * PageAllocator.PageSize));
                Assert.Equal(page == 0 ? PageFlags.Head : PageFlags.Tail, byArithmetic->Flags);
            }

            Assert.True(PageAllocator.HeadFrameOf(block + (5 * PageAllocator.PageSize)) == ArenaSpace.FrameOf(block));
        }
        finally
        {
            pages.FreePages(block, 3);
        }
    }

    [Fact]
    public void An_address_of_an_arena_given_back_reads_as_no_ones_and_every_free_refuses_it_as_foreign()
    {
        if (ArenaSpace.Bytes == 0)
        {
            return;
        }

        var pages = new PageAllocator();
        var kmalloc = new KmallocAllocator(pages, "space-gone");
        void* gone = kmalloc.Kmalloc(64);
        PageFrame* frame = ArenaSpace.FrameOf(gone);
        Assert.True(frame->Address != null);
        SlabGen.Kmem.Kfree(gone);
        kmalloc.Dispose();
        pages.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pages.AllocPages(0));

        // Its slot is free (or taken again by another allocator, which would have written the frame's Address).
        Assert.True(frame->Address == null || frame->Address == (byte*)((nuint)gone & ~(nuint)(PageAllocator.PageSize - 1)));
        // Parallel tests take arenas all the time: a check counts only if the slot was still free after it.
        using var cache = KmemCache.Create("space-gone-objects", 64, 0);
        CheckWhileFree(frame, () => Assert.True(PageAllocator.HeadFrameOf(gone) == null));
        CheckWhileFree(frame, () => Assert.Null(KmemCache.CacheOf(gone)));
        CheckWhileFree(frame, () => Assert.Contains("foreign pointer", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Kfree(gone)).Message));
        CheckWhileFree(frame, () => Assert.Contains("foreign pointer", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.ThisThread.Kfree(gone)).Message));
        CheckWhileFree(frame, () => Assert.Contains("foreign pointer: it is not in any SlabGen arena", Assert.Throws<ArgumentException>(() => cache.Free(gone)).Message));

        // And the allocator a new arena goes to works, in whichever slot it gets.
        using var next = new PageAllocator();
        Usable.Check(next);
    }

    /// <summary>Runs <paramref name="check"/> if the arena slot of <paramref name="frame"/> is free; a failure counts only if it was still free afterwards.</summary>
    private static void CheckWhileFree(PageFrame* frame, Action check)
    {
        if (frame->Address != null)
        {
            return;
        }

        try
        {
            check();
        }
        catch (Exception) when (frame->Address != null)
        {
            // another allocator took the slot during the check: the address is its memory now, not a foreign one
        }
    }

    [Fact]
    public void A_slot_taken_again_starts_with_frames_as_new()
    {
        if (ArenaSpace.Bytes == 0)
        {
            return;
        }

        var first = new PageAllocator();
        using (var cache = KmemCache.Create("space-first", 200, 0, pages: first))
        {
            void* obj = cache.Alloc();
            cache.Free(obj);
        }

        first.Dispose();

        // Whatever slot the next arena takes (this one again, or another a parallel test gave back), its frames hold
        // nothing of an earlier owner: every page a free buddy page or the block's first, no cookie, no class.
        using var second = new PageAllocator();
        var page = (byte*)second.AllocPages(0);
        PageFrame* frames = ArenaSpace.FrameOf((void*)((nuint)page & ~(Arena.Bytes - 1)));
        for (int i = 0; i < Arena.Pages; i++)
        {
            Assert.True(frames[i].Address == (byte*)((nuint)page & ~(Arena.Bytes - 1)) + ((nuint)i * PageAllocator.PageSize));
            Assert.True(SlabPage.Of(&frames[i])->Cookie == 0 && SlabPage.Of(&frames[i])->KmallocClass == 0, $"page {i} kept an earlier slab's marks");
            Assert.True(frames[i].Flags is PageFlags.Buddy or PageFlags.None or PageFlags.Head, $"page {i}: {frames[i].Flags}");
        }

        second.FreePages(page, 0);
    }

    [Fact]
    public void Two_threads_taking_and_giving_back_arenas_never_share_a_slot_and_keep_contents_intact()
    {
        var live = new ConcurrentDictionary<nuint, int>();
        long checkedPages = 0;

        void Work(int self, Barrier barrier)
        {
            for (int round = 0; round < 40; round++)
            {
                using var pages = new PageAllocator(new PageAllocatorOptions { PerThreadPages = 0 });
                var block = (byte*)pages.AllocPages(PageAllocator.MaxOrder);
                nuint slot = (nuint)block & ~(Arena.Bytes - 1);
                Assert.True(live.TryAdd(slot, self), $"slot 0x{slot:x} handed to two allocators at once");
                ulong stamp = ((ulong)self << 32) | (uint)round;
                for (nuint offset = 0; offset < Arena.Bytes; offset += (nuint)PageAllocator.PageSize)
                {
                    *(ulong*)(block + offset) = stamp ^ offset;
                }

                Thread.Yield();
                for (nuint offset = 0; offset < Arena.Bytes; offset += (nuint)PageAllocator.PageSize)
                {
                    Assert.Equal(stamp ^ offset, *(ulong*)(block + offset));
                }

                Interlocked.Add(ref checkedPages, Arena.Pages);
                Assert.True(live.TryRemove(slot, out _));
                pages.FreePages(block, PageAllocator.MaxOrder);
            }
        }

        Stress.RunThreads(2, Work);
        Assert.Equal(2L * 40 * Arena.Pages, checkedPages);
    }

    [Fact]
    public void With_the_space_turned_off_every_arena_takes_the_section_map_and_misuse_is_still_refused() =>
        ChildProcess.Run(WithoutTheSpace, environment: ("SLABGEN_DISABLE_ARENA_SPACE", "1"));

    private static void WithoutTheSpace()
    {
        Assert.Equal((nuint)0, ArenaSpace.Bytes);
        void* obj = SlabGen.Kmem.Kmalloc(64);
        Assert.False(ArenaSpace.Contains(obj));
        Assert.True(PageAllocator.FrameOf(obj) == SectionMap.Find(obj)->FrameOf(obj));
        SlabGen.Kmem.Kfree(obj);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Kfree(obj)).Message);
        nint foreign = (nint)NativeMemory.Alloc(64);
        Assert.Contains("foreign pointer", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Kfree((void*)foreign)).Message);
        NativeMemory.Free((void*)foreign);
        using var cache = KmemCache.Create("no-space", 100, 0);
        Usable.Check(cache);
        using var pages = new PageAllocator();
        Usable.Check(pages);
    }
}
