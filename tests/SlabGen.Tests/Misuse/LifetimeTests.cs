using System.Diagnostics.Metrics;
using System.Diagnostics.Tracing;

namespace SlabGen.Tests.Misuse;

/// <summary>
/// Lifetimes that cannot crash: a page allocator refuses to be disposed under its caches and blocks, a cache's
/// Dispose never throws (a leak is reported once and the cache stays), and a throwing constructor leaves nothing.
/// </summary>
[Collection(LeakEventCollection.Name)]
public sealed unsafe class LifetimeTests
{
    private static int s_constructorCalls;
    private static int s_throwAfter;

    [Fact]
    public void Disposing_an_allocator_under_a_cache_keeps_both_usable_and_reports_the_cache_once() =>
        ChildProcess.Run(DisposeUnderCache, TimeSpan.FromSeconds(60));

    /// <summary>In a child process: before, the cache's next allocation handed out unmapped memory.</summary>
    private static void DisposeUnderCache()
    {
        using var listener = new LeakListener();
        using var meter = new LeakCounter();
        var pages = new PageAllocator();
        KmemCache cache = KmemCache.Create("dispose-under-me", 64, 0, pages: pages);
        Usable.Check(cache);

        pages.Dispose();
        pages.Dispose();

        LeakListener.Leak leak = Assert.Single(listener.Leaks);
        Assert.Equal(SlabGenEventSource.AllocatorLeakedId, leak.Id);
        Assert.Contains("'dispose-under-me'", leak.Report);
        Assert.Contains("Destroy the caches and dispose again", leak.Report);
        Assert.Equal(1, meter.Count(SlabGenMetrics.AllocatorTag, pages.Id));
        Usable.Check(cache);
        Assert.Equal(0, cache.Shrink() % PageAllocator.PageSize);
        Usable.Check(pages);

        cache.Destroy();
        pages.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pages.AllocPages(0));
        Assert.Throws<ObjectDisposedException>(() => KmemCache.Create("on-disposed", 64, 0, pages: pages));
        Assert.Single(listener.Leaks);
    }

    [Fact]
    public void Disposing_an_allocator_with_blocks_still_allocated_keeps_the_blocks_valid_until_they_are_freed() =>
        ChildProcess.Run(DisposeUnderBlocks, TimeSpan.FromSeconds(60));

    private static void DisposeUnderBlocks()
    {
        using var listener = new LeakListener();
        var pages = new PageAllocator(new PageAllocatorOptions { PerThreadPages = 64 });
        void* kept = pages.AllocPages(2);
        *(long*)kept = 0x5EED;
        void* parked = pages.AllocPages(0);
        pages.FreePages(parked, 0); // parked on this thread's list: free, so it does not count

        pages.Dispose();
        Assert.Contains("4 page(s) are still allocated from it", Assert.Single(listener.Leaks).Report);
        Assert.Equal(0x5EED, *(long*)kept);
        Usable.Check(pages);

        pages.FreePages(kept, 2);
        pages.Dispose();
        Assert.Throws<ObjectDisposedException>(() => pages.AllocPages(0));
        Assert.Equal(0, pages.ArenaCount);
    }

    [Fact]
    public void Dispose_of_a_cache_with_live_objects_does_not_throw_keeps_the_cache_and_reports_the_leak_once()
    {
        using var pages = new PageAllocator();
        using var listener = new LeakListener();
        using var meter = new LeakCounter();
        KmemCache cache = KmemCache.Create("leaky-dispose", 40, 0, SlabFlags.StoreUser, null, pages);
        void* leaked = cache.Alloc();
        *(int*)leaked = 77;

        cache.Dispose();
        cache.Dispose();

        LeakListener.Leak leak = Assert.Single(listener.Leaks, l => l.Name == "leaky-dispose");
        Assert.Equal(1, leak.Live);
        Assert.Contains("1 objects remaining", leak.Report);
        Assert.Contains(nameof(Dispose_of_a_cache_with_live_objects_does_not_throw_keeps_the_cache_and_reports_the_leak_once), leak.Report);
        Assert.Equal(1, meter.Count(SlabGenMetrics.CacheTag, "leaky-dispose"));

        Assert.Contains(SlabInfo.Snapshot(), entry => entry.Name == "leaky-dispose");
        Assert.Equal(77, *(int*)leaked);
        Usable.Check(cache);
        Assert.Throws<InvalidOperationException>(cache.Destroy);

        cache.Free(leaked);
        cache.Dispose();
        Assert.DoesNotContain(SlabInfo.Snapshot(), entry => entry.Name == "leaky-dispose");
        Assert.Throws<ObjectDisposedException>(() => cache.Alloc());
        Assert.Single(listener.Leaks, l => l.Name == "leaky-dispose");
    }

    [Fact]
    public void Dispose_of_a_typed_cache_with_live_objects_does_not_throw_and_the_kmalloc_caches_ignore_Dispose()
    {
        using var pages = new PageAllocator();
        var typed = KmemCache<long>.Create("leaky-typed", pages: pages);
        long* value = typed.Alloc();
        typed.Dispose();
        Assert.Equal(1, typed.LiveObjects);
        typed.Free(value);
        typed.Dispose();
        Assert.Throws<ObjectDisposedException>(() => typed.Alloc());

        KmemCache kmalloc64 = KmallocCaches.For(64);
        kmalloc64.Dispose();
        void* obj = SlabGen.Kmem.Kmalloc(64);
        Assert.True(obj != null);
        SlabGen.Kmem.Kfree(obj);
        Assert.Throws<InvalidOperationException>(kmalloc64.Destroy);
    }

    [Theory]
    [InlineData(SlabFlags.None)]
    [InlineData(SlabFlags.RedZone | SlabFlags.StoreUser)]
    [InlineData(SlabFlags.Poison)]
    public void A_constructor_that_throws_leaves_no_slab_and_no_allocated_object_behind(SlabFlags flags)
    {
        using var pages = new PageAllocator();
        using KmemCache cache = KmemCache.Create("throwing-ctor", 96, 0, flags, &ThrowingConstructor, pages);
        s_constructorCalls = 0;
        s_throwAfter = (flags & SlabFlags.Poison) != 0 ? 0 : 5; // a poisoned object is constructed when it is handed out

        var error = Assert.Throws<InvalidDataException>(() => cache.Alloc());
        Assert.Equal($"constructor {s_throwAfter + 1} failed", error.Message);
        Assert.Equal(0, cache.LiveObjects);
        Assert.Equal(0, cache.ActiveObjects);
        if ((flags & SlabFlags.Poison) == 0)
        {
            Assert.Equal(0, cache.SlabCount);
            Assert.Equal(pages.ArenaCount * 1024L, pages.BuddyInfo().FreePages + pages.BuddyInfo().PerThreadPages);
        }

        s_throwAfter = int.MaxValue;
        Usable.Check(cache);
        cache.Destroy();
        Assert.Equal(pages.ArenaCount * 1024L, pages.BuddyInfo().FreePages + pages.BuddyInfo().PerThreadPages);
    }

    private static void ThrowingConstructor(void* obj)
    {
        if (++s_constructorCalls > s_throwAfter)
        {
            throw new InvalidDataException($"constructor {s_constructorCalls} failed");
        }

        *(long*)obj = 1;
    }

    /// <summary>Collects the SlabGen event source's CacheLeaked events.</summary>
    private sealed class LeakListener : EventListener
    {
        /// <summary>A CacheLeaked event (name, live objects, report) or an AllocatorLeaked one (the id as its name, report).</summary>
        public sealed record Leak(int Id, string Name, long Live, string Report);

        private readonly List<Leak> _leaks = [];

        public IReadOnlyList<Leak> Leaks
        {
            get
            {
                lock (_leaks)
                {
                    return [.. _leaks];
                }
            }
        }

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == SlabGenEventSource.SourceName)
            {
                EnableEvents(source, EventLevel.Warning);
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            Leak? leak = e.EventId switch
            {
                SlabGenEventSource.CacheLeakedId => new Leak(e.EventId, (string)e.Payload![0]!, (long)e.Payload[1]!, (string)e.Payload[2]!),
                SlabGenEventSource.AllocatorLeakedId => new Leak(e.EventId, e.Payload![0]!.ToString()!, 0, (string)e.Payload[1]!),
                _ => null,
            };
            if (leak is not null)
            {
                lock (_leaks)
                {
                    _leaks.Add(leak);
                }
            }
        }
    }

    /// <summary>Counts the leaked-disposal counters' measurements per tag value.</summary>
    private sealed class LeakCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private readonly Dictionary<(string Tag, object? Value), long> _counts = [];

        public LeakCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == SlabGenMetrics.MeterName && instrument.Name.EndsWith(".leaked_disposals", StringComparison.Ordinal))
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (KeyValuePair<string, object?> tag in tags)
                {
                    lock (_counts)
                    {
                        _counts[(tag.Key, tag.Value)] = _counts.GetValueOrDefault((tag.Key, tag.Value)) + value;
                    }
                }
            });
            _listener.Start();
        }

        public long Count(string tag, object value)
        {
            lock (_counts)
            {
                return _counts.GetValueOrDefault((tag, value));
            }
        }

        public void Dispose() => _listener.Dispose();
    }
}

[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class LeakEventCollection
{
    public const string Name = "Leak events";
}
