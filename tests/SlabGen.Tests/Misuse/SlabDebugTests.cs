namespace SlabGen.Tests.Misuse;

using Kmem = SlabGen.Kmem;

/// <summary>Debug modes per process, with the kernel's slab_debug= syntax, for every cache by name, kmalloc's included.</summary>
public sealed unsafe class SlabDebugTests
{
    private const SlabFlags All = SlabFlags.ConsistencyChecks | SlabFlags.RedZone | SlabFlags.Poison | SlabFlags.StoreUser;

    [Theory]
    [InlineData("FZPU,kmalloc-*", "kmalloc-64", All)]
    [InlineData("FZPU,kmalloc-*", "particle", SlabFlags.None)]
    [InlineData("", "anything", All)]
    [InlineData("zp", "anything", SlabFlags.RedZone | SlabFlags.Poison)]
    [InlineData("P,a;Z,b", "b", SlabFlags.RedZone)]
    [InlineData("P,a;Z,b", "c", SlabFlags.None)]
    [InlineData("FZ;-,kmalloc-64", "kmalloc-64", SlabFlags.None)]
    [InlineData("FZ;-,kmalloc-64", "kmalloc-96", SlabFlags.ConsistencyChecks | SlabFlags.RedZone)]
    [InlineData("U, session , request-*", "request-state", SlabFlags.StoreUser)]
    [InlineData("U,session", "session-2", SlabFlags.None)]
    [InlineData(",trust-cache", "trust-cache", All)] // names without letters: full debugging, as the kernel's slab_debug=,dentry
    [InlineData(",trust-*", "trust-cache", All)]
    [InlineData(",trust-cache", "other", SlabFlags.None)]
    [InlineData("P;,trust-cache", "trust-cache", All)]
    [InlineData("P;,trust-cache", "other", SlabFlags.Poison)]
    [InlineData("-,trust-cache", "trust-cache", SlabFlags.None)]
    public void The_option_gives_each_cache_the_flags_of_the_last_block_that_names_it(string option, string cache, SlabFlags expected)
    {
        Assert.Equal(expected, SlabDebug.FlagsFor(option, cache, out string ignored));
        Assert.Equal("", ignored);
    }

    [Fact]
    public void Unknown_letters_are_ignored_and_named_and_no_option_means_no_flags()
    {
        Assert.Equal(SlabFlags.RedZone, SlabDebug.FlagsFor("ZXT,c", "c", out string ignored));
        Assert.Contains("unknown flags 'X', 'T' were ignored", ignored);
        Assert.Equal(SlabFlags.None, SlabDebug.FlagsFor(null, "c", out ignored));
        Assert.Equal("", ignored);
    }

    [Fact]
    public void Kmalloc_under_the_environment_switch_catches_overflows_past_the_size_asked_for_use_after_free_and_bad_frees() =>
        ChildProcess.Run(KmallocUnderDebug, TimeSpan.FromSeconds(60), (SlabDebug.EnvironmentVariable, "FZPU,kmalloc-*"));

    private static void KmallocUnderDebug()
    {
        Assert.Equal(All, KmallocCaches.For(64).Flags);
        Assert.Contains(SlabInfo.Snapshot(), e => e.Name == "kmalloc-64" && e.ToString().EndsWith(" : debug FZPU", StringComparison.Ordinal));

        var p = (byte*)Kmem.Kmalloc(57);
        Assert.Equal((nuint)57, Kmem.Ksize(p));
        p[56] = 1;
        p[57] = 2; // past the 57 bytes asked for, inside kmalloc-64's object
        Assert.Contains("byte 0 past the end was 0x02", Assert.Throws<InvalidOperationException>(() => Kmem.Kfree(p)).Message);

        var q = (byte*)Kmem.Kmalloc(64);
        Kmem.Kfree(q);
        q[10] = 0x42; // after free
        Assert.Contains("use after free: byte 10", Assert.Throws<InvalidOperationException>(() => Kmem.Kmalloc(64)).Message);

        var r = (byte*)Kmem.Kmalloc(64);
        Assert.Contains("interior pointer", Assert.Throws<ArgumentException>(() => Kmem.Kfree(r + 8)).Message);
        Kmem.Kfree(r);
        Assert.Contains("double free", Assert.Throws<ArgumentException>(() => Kmem.Kfree(r)).Message);

        var blocks = Enumerable.Range(0, 100).Select(i => (nint)Kmem.Kmalloc((nuint)(i + 1))).ToArray();
        for (int i = 0; i < blocks.Length; i++)
        {
            new Span<byte>((void*)blocks[i], i + 1).Fill((byte)i);
        }

        foreach (nint block in blocks)
        {
            Kmem.Kfree((void*)block);
        }

        using KmemCache mine = KmemCache.Create("not-kmalloc", 64, 0);
        Assert.Equal(SlabFlags.None, mine.Flags);
    }
}
