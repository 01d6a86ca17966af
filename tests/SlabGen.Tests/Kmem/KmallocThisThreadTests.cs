// Kmem.ThisThread, the thread's handle on the kmalloc caches for hot loops: the same memory, checks and exceptions as
// Kmem's own calls, for every size, on one thread or across two, and with no managed allocation.
using System.Runtime.InteropServices;

namespace SlabGen.Tests.Kmem;

public sealed unsafe class KmallocThisThreadTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(64)]
    [InlineData(100)]
    [InlineData(3000)]
    [InlineData(8192)]
    [InlineData(8193)]
    [InlineData(300_000)]
    public void Memory_of_the_handle_and_of_Kmem_is_one_and_frees_through_either(int size)
    {
        KmallocThreadCache thread = SlabGen.Kmem.ThisThread;
        var blocks = new nint[64];
        for (int i = 0; i < blocks.Length; i++)
        {
            blocks[i] = (nint)(i % 2 == 0 ? thread.Kmalloc((nuint)size) : SlabGen.Kmem.Kmalloc((nuint)size));
            Assert.True(SlabGen.Kmem.Ksize((void*)blocks[i]) >= (nuint)size);
            new Span<byte>((void*)blocks[i], size).Fill((byte)i);
        }

        Assert.Equal(blocks.Length, blocks.Distinct().Count());
        for (int i = 0; i < blocks.Length; i++)
        {
            Assert.True(new Span<byte>((void*)blocks[i], size).IndexOfAnyExcept((byte)i) < 0, $"block {i} was overwritten");
            if (i % 3 == 0)
            {
                SlabGen.Kmem.Kfree((void*)blocks[i]);
            }
            else
            {
                thread.Kfree((void*)blocks[i]);
            }
        }
    }

    [Fact]
    public void Kzalloc_through_the_handle_zeroes_a_reused_object()
    {
        KmallocThreadCache thread = SlabGen.Kmem.ThisThread;
        var dirty = (byte*)thread.Kmalloc(96);
        new Span<byte>(dirty, 96).Fill(0xab);
        thread.Kfree(dirty);
        var clean = (byte*)thread.Kzalloc(96);
        Assert.True(new Span<byte>(clean, 96).IndexOfAnyExcept((byte)0) < 0);
        thread.Kfree(clean);
    }

    [Fact]
    public void Misuse_through_the_handle_is_refused_with_Kfrees_message_and_the_allocator_stays_usable()
    {
        KmallocThreadCache thread = SlabGen.Kmem.ThisThread;
        byte* small = (byte*)thread.Kmalloc(64);
        byte* large = (byte*)thread.Kmalloc(40_000);
        void* foreign = NativeMemory.Alloc(64);
        try
        {
            Assert.Contains("interior pointer", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.ThisThread.Kfree(small + 8)).Message);
            Assert.Contains("interior pointer: it is 8192 bytes into a 65536-byte kmalloc block",
                Assert.Throws<ArgumentException>(() => SlabGen.Kmem.ThisThread.Kfree(large + 8192)).Message);
            Assert.Contains("foreign pointer", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.ThisThread.Kfree(foreign)).Message);
            thread.Kfree(small);
            Assert.Contains("double free", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.ThisThread.Kfree(small)).Message);
            thread.Kfree(large);
            Assert.Contains("double free", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.ThisThread.Kfree(large)).Message);
            thread.Kfree(null);

            void* a = thread.Kmalloc(64);
            void* b = thread.Kmalloc(64);
            Assert.True(a != b);
            thread.Kfree(a);
            thread.Kfree(b);
        }
        finally
        {
            NativeMemory.Free(foreign);
        }
    }

    [Fact]
    public void A_default_handle_works_through_the_slow_paths()
    {
        KmallocThreadCache none = default;
        void* obj = none.Kmalloc(48);
        Assert.Equal(48u, SlabGen.Kmem.Ksize(obj));
        none.Kfree(obj);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => default(KmallocThreadCache).Kfree(obj)).Message);
    }

    [Fact]
    public void A_thread_that_never_allocated_takes_a_handle_and_uses_it_across_threads_with_contents_intact()
    {
        KmemCache kmalloc64 = KmallocCaches.For(64);
        using var toB = new System.Collections.Concurrent.BlockingCollection<nint>(256);
        using var toA = new System.Collections.Concurrent.BlockingCollection<nint>(256);
        long bad = 0, allocated = 0;

        void Run(System.Collections.Concurrent.BlockingCollection<nint> send, System.Collections.Concurrent.BlockingCollection<nint> receive, long seed)
        {
            KmallocThreadCache thread = SlabGen.Kmem.ThisThread; // a new thread: its table is made here
            for (long i = 0; i < 20_000; i++)
            {
                var obj = (long*)thread.Kmalloc(64);
                Interlocked.Increment(ref allocated);
                obj[0] = seed + i;
                obj[7] = ~(seed + i);
                send.Add((nint)obj);
                if (receive.TryTake(out nint theirs, 1000))
                {
                    Check(thread, theirs, ref bad);
                }
            }

            send.CompleteAdding();
            foreach (nint theirs in receive.GetConsumingEnumerable())
            {
                Check(thread, theirs, ref bad);
            }
        }

        var a = new Thread(() => Run(toB, toA, 1_000_000));
        var b = new Thread(() => Run(toA, toB, 9_000_000));
        a.Start();
        b.Start();
        Assert.True(a.Join(TimeSpan.FromSeconds(30)) && b.Join(TimeSpan.FromSeconds(30)), "the exchange did not finish");
        Assert.Equal(0, Interlocked.Read(ref bad));
        Assert.Equal(40_000, Interlocked.Read(ref allocated));
        Assert.Null(kmalloc64.VerifySlabLists());
    }

    private static void Check(KmallocThreadCache thread, nint theirs, ref long bad)
    {
        var obj = (long*)theirs;
        if (obj[7] != ~obj[0])
        {
            Interlocked.Increment(ref bad);
        }

        thread.Kfree(obj);
    }

    [Fact]
    public void Pairs_through_the_handle_allocate_no_managed_memory()
    {
        KmallocThreadCache thread = SlabGen.Kmem.ThisThread;
        thread.Kfree(thread.Kmalloc(64));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            var obj = (int*)thread.Kmalloc(64);
            *obj = i;
            thread.Kfree(obj);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    [Fact]
    public void In_interrupt_context_the_handle_refuses_flags_that_may_sleep_and_serves_atomic_ones()
    {
        KmallocThreadCache thread = SlabGen.Kmem.ThisThread;
        thread.Kfree(thread.Kmalloc(64));
        using (InterruptContext.Enter())
        {
            var e = Assert.Throws<InvalidOperationException>(() => SlabGen.Kmem.ThisThread.Kmalloc(64));
            Assert.Contains("sleeping function called from invalid context", e.Message);
            void* obj = thread.Kmalloc(64, GfpFlags.Atomic);
            Assert.True(obj != null);
            thread.Kfree(obj);
        }
    }
}
