// Debug modes for kmalloc blocks above 8 KiB (LargeKmalloc.cs): the ported KASAN and security cases that went unreported
// before (1- and 32-byte overflows and underflows, writes after free of a Kmalloc(8202) and a 256 KiB block), each in a
// child process with SLABGEN_SLAB_DEBUG naming the kmalloc caches, then the allocator used again.
namespace SlabGen.Tests.Misuse;

public sealed unsafe class LargeDebugTests
{
    private static readonly (string, string) AllKmalloc = ("SLABGEN_SLAB_DEBUG", "FZPU,kmalloc-*");

    [Fact]
    public void Overflows_and_underflows_of_large_blocks_are_reported_on_free() => ChildProcess.Run(OverflowsAndUnderflows, environment: AllKmalloc);

    private static void OverflowsAndUnderflows()
    {
        foreach (int size in (int[])[8202, 28 << 10, 256 << 10]) // 28 KiB + the page before it fills 32 KiB exactly
        {
            foreach (int reach in (int[])[1, 32])
            {
                var over = (byte*)SlabGen.Kmem.Kmalloc((nuint)size);
                Assert.Equal((nuint)size, SlabGen.Kmem.Ksize(over));
                Assert.Equal(0, (nint)over % PageAllocator.PageSize);
                over[size + reach - 1] = 0x41;
                var e = Assert.Throws<InvalidOperationException>(() => SlabGen.Kmem.Kfree(over));
                Assert.Contains($"red zone overwritten: byte {reach - 1} past the end was 0x41, expected 0xcc (a buffer overflow of the {size}-byte object). The block was freed.", e.Message);

                var under = (byte*)SlabGen.Kmem.Kmalloc((nuint)size);
                under[-reach] = 0x42;
                e = Assert.Throws<InvalidOperationException>(() => SlabGen.Kmem.Kfree(under));
                Assert.Contains($"red zone overwritten: byte {reach} before the start was 0x42, expected 0xcc (a buffer underflow of the {size}-byte object)", e.Message);
            }
        }

        StillUsable();
    }

    [Fact]
    public void A_write_after_free_of_a_large_block_is_reported_when_it_is_allocated_again() => ChildProcess.Run(WriteAfterFree, environment: AllKmalloc);

    private static void WriteAfterFree()
    {
        foreach (int size in (int[])[8202, 256 << 10])
        {
            var p = (byte*)SlabGen.Kmem.Kmalloc((nuint)size);
            SlabGen.Kmem.Kfree(p);
            p[100] = 7; // the block waits, poisoned, in the quarantine
            var e = Assert.Throws<InvalidOperationException>(() => SlabGen.Kmem.Kmalloc((nuint)size));
            Assert.Contains($"use after free: byte 100 of the freed {size}-byte kmalloc block at 0x{(nuint)p:x} was 0x07, expected 0x6b (found when it was allocated again)", e.Message);
        }

        StillUsable();
    }

    [Fact]
    public void A_double_free_and_an_interior_pointer_of_a_debug_large_block_are_refused() => ChildProcess.Run(DoubleFreeAndInterior, environment: AllKmalloc);

    private static void DoubleFreeAndInterior()
    {
        var p = (byte*)SlabGen.Kmem.Kmalloc(20_000);
        Assert.Contains("interior pointer: it is 64 bytes into a 20000-byte kmalloc block", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Kfree(p + 64)).Message);
        SlabGen.Kmem.Kfree(p);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Kfree(p)).Message);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Ksize(p)).Message);
        StillUsable();
    }

    [Fact]
    public void The_largest_block_still_fits_and_quarantined_blocks_go_back_when_the_allocator_is_disposed() =>
        ChildProcess.Run(LargestAndDisposal, environment: ("SLABGEN_SLAB_DEBUG", "ZP,big-kmalloc-large"));

    private static void LargestAndDisposal()
    {
        var pages = new PageAllocator(new PageAllocatorOptions { MaxBytes = 16 << 20 });
        var kmalloc = new KmallocAllocator(pages, "big");
        var whole = (byte*)kmalloc.Kmalloc(SlabGen.Kmem.MaxKmallocSize);
        Assert.True(whole != null, "a 4 MiB block has no room for a guard page, but is still served");
        new Span<byte>(whole, (int)SlabGen.Kmem.MaxKmallocSize).Fill(1);
        SlabGen.Kmem.Kfree(whole);
        for (int i = 0; i < 3; i++)
        {
            var p = (byte*)kmalloc.Kmalloc(100_000);
            Assert.True(p != null);
            p[99_999] = 1;
            SlabGen.Kmem.Kfree(p);
        }

        void* small = kmalloc.Kmalloc(64); // the small caches of this allocator are not debugged: only its large blocks
        SlabGen.Kmem.Kfree(small);
        kmalloc.Dispose();
        pages.Dispose(); // nothing left: the quarantine went back with the allocator
        Assert.Throws<ObjectDisposedException>(() => pages.AllocPages(0));
    }

    [Fact]
    public void A_write_after_free_found_when_the_allocator_is_disposed_is_the_FreedBlockWritten_event() =>
        ChildProcess.Run(WriteFoundAtDisposal, environment: ("SLABGEN_SLAB_DEBUG", "ZP,late-kmalloc-large"));

    private static void WriteFoundAtDisposal()
    {
        using var listener = new FreedBlockListener();
        using var pages = new PageAllocator();
        var kmalloc = new KmallocAllocator(pages, "late");
        var p = (byte*)kmalloc.Kmalloc(50_000);
        SlabGen.Kmem.Kfree(p);
        p[7] = 9; // into the quarantined block
        kmalloc.Dispose(); // never throws: the report is an event
        (string allocator, string report) = Assert.Single(listener.Events);
        Assert.Equal("late", allocator);
        Assert.Contains("use after free: byte 7 of the freed 50000-byte kmalloc block", report);
        Assert.Contains("(found when the allocator was disposed)", report);
    }

    /// <summary>Collects the SlabGen event source's FreedBlockWritten events.</summary>
    private sealed class FreedBlockListener : System.Diagnostics.Tracing.EventListener
    {
        public List<(string Allocator, string Report)> Events { get; } = [];

        protected override void OnEventSourceCreated(System.Diagnostics.Tracing.EventSource source)
        {
            if (source.Name == SlabGenEventSource.SourceName)
            {
                EnableEvents(source, System.Diagnostics.Tracing.EventLevel.Warning);
            }
        }

        protected override void OnEventWritten(System.Diagnostics.Tracing.EventWrittenEventArgs e)
        {
            if (e.EventId == SlabGenEventSource.FreedBlockWrittenId)
            {
                lock (Events)
                {
                    Events.Add(((string)e.Payload![0]!, (string)e.Payload[1]!));
                }
            }
        }
    }

    private static void StillUsable()
    {
        var blocks = new List<nint>();
        foreach (int size in (int[])[9000, 64 << 10, 1 << 20, 64, 5000])
        {
            var p = (byte*)SlabGen.Kmem.Kmalloc((nuint)size);
            Assert.True(p != null);
            new Span<byte>(p, size).Fill(3);
            blocks.Add((nint)p);
        }

        Assert.Equal(blocks.Count, blocks.Distinct().Count());
        blocks.ForEach(static b => SlabGen.Kmem.Kfree((void*)b));
    }
}
