// Misuse that used to corrupt, lose memory or go unreported: each case refused with a message that names it, then the
// allocator used again and checked.
namespace SlabGen.Tests.Misuse;

public sealed unsafe class TrustTests
{
    [Fact]
    public void Krealloc_and_Ksize_of_a_freed_object_are_refused_and_the_object_is_handed_out_once()
    {
        void* p = SlabGen.Kmem.Kmalloc(201);
        SlabGen.Kmem.Kfree(p);

        var realloc = Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Krealloc(p, 235));
        Assert.Contains($"ksize(0x{(nuint)p:x}): already freed", realloc.Message);
        void* small = SlabGen.Kmem.Kmalloc(112);
        SlabGen.Kmem.Kfree(small);
        Assert.Contains("already freed", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Ksize(small)).Message);
        byte* live = (byte*)SlabGen.Kmem.Kmalloc(112);
        Assert.Contains("interior pointer: it is 16 bytes into an object of cache 'kmalloc-128'",
            Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Ksize(live + 16)).Message);
        Assert.Equal(128u, SlabGen.Kmem.Ksize(live));
        SlabGen.Kmem.Kfree(live);

        // Nothing changed: the freed object comes back once.
        void* a = SlabGen.Kmem.Kmalloc(201);
        void* b = SlabGen.Kmem.Kmalloc(201);
        Assert.True(a != b);
        void* grown = SlabGen.Kmem.Krealloc(a, 235);
        Assert.True(grown == a, "a live object grows in place within its class");
        SlabGen.Kmem.Kfree(grown);
        SlabGen.Kmem.Kfree(b);
        Usable.Check(KmallocCaches.For(201));
    }

    [Fact]
    public void Ksize_of_a_freed_object_is_refused_in_a_debug_cache_too()
    {
        ChildProcess.Run(KsizeOfAFreedDebugObject, environment: ("SLABGEN_SLAB_DEBUG", "FZ,kmalloc-256"));
    }

    private static void KsizeOfAFreedDebugObject()
    {
        void* p = SlabGen.Kmem.Kmalloc(200);
        Assert.Equal(200u, SlabGen.Kmem.Ksize(p)); // the size asked for: the rest is red zone
        SlabGen.Kmem.Kfree(p);
        Assert.Contains("already freed", Assert.Throws<ArgumentException>(() => SlabGen.Kmem.Ksize(p)).Message);
        Usable.Check(KmallocCaches.For(200));
    }
}
