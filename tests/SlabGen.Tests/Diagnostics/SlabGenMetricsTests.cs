// The SlabGen meter, read the way dotnet-counters and OpenTelemetry read it: through a MeterListener.
using System.Diagnostics.Metrics;

namespace SlabGen.Tests.Diagnostics;

public sealed unsafe class SlabGenMetricsTests
{
    [Fact]
    public void Cache_instruments_report_the_objects_and_slabs_slabinfo_shows()
    {
        using KmemCache cache = KmemCache.Create("metrics-cache", 200, 0);
        var objects = Enumerable.Range(0, 300).Select(_ => (nint)cache.Alloc()).ToArray();

        Dictionary<string, long> values = Collect(tag: SlabGenMetrics.CacheTag, tagValue: "metrics-cache");
        SlabInfoEntry row = SlabInfo.Snapshot().Single(static e => e.Name == "metrics-cache");

        Assert.Equal(row.ActiveObjects, values["slabgen.cache.objects.active"]);
        Assert.True(values["slabgen.cache.objects.active"] >= 300);
        Assert.Equal(300, values["slabgen.cache.objects.live"]);
        Assert.Equal(row.TotalObjects, values["slabgen.cache.objects.total"]);
        Assert.Equal(row.Slabs, values["slabgen.cache.slabs"]);
        Assert.Equal(row.Slabs * row.PagesPerSlab * PageAllocator.PageSize, values["slabgen.cache.size"]);
        Assert.Equal(row.SlotSize, values["slabgen.cache.slot_size"]);
        Assert.Equal(row.ActiveObjects - 300, values["slabgen.cache.objects.cached"]);
        Assert.Equal(0, values["slabgen.cache.objects.reserved"]);
        long reserved = cache.Reserve(1000);
        Assert.Equal(reserved, Collect(SlabGenMetrics.CacheTag, "metrics-cache")["slabgen.cache.objects.reserved"]);
        Assert.Equal(reserved, SlabInfo.Snapshot().Single(static e => e.Name == "metrics-cache").ReservedObjects);
        cache.Reserve(0);
        foreach (nint obj in objects)
        {
            cache.Free((void*)obj);
        }

        Dictionary<string, long> freed = Collect(SlabGenMetrics.CacheTag, "metrics-cache");
        Assert.Equal(0, freed["slabgen.cache.objects.live"]);
        // Freed objects wait in this thread's array cache: active, not live, and counted as cached.
        Assert.True(freed["slabgen.cache.objects.cached"] > 0);
        Assert.Equal(freed["slabgen.cache.objects.active"], freed["slabgen.cache.objects.cached"]);
        cache.Shrink();
        Assert.Equal(0, Collect(SlabGenMetrics.CacheTag, "metrics-cache")["slabgen.cache.objects.active"]);
    }

    [Fact]
    public void Page_instruments_report_every_live_allocator_by_name_and_id()
    {
        void* page = PageAllocator.Shared.AllocPages(2);
        var budget = new PageAllocator(new PageAllocatorOptions { MaxBytes = 8 << 20, Name = "metrics-budget" });
        void* block = budget.AllocPages(3);
        try
        {
            var measurements = new List<(string Instrument, long Value, string? Name, int? Id, int? Order)>();
            using var listener = Listen((instrument, value, tags, _) =>
            {
                (string? name, int? id, int? order) = (null, null, null);
                foreach (KeyValuePair<string, object?> tag in tags)
                {
                    switch (tag.Key)
                    {
                        case SlabGenMetrics.OrderTag: order = (int)tag.Value!; break;
                        case SlabGenMetrics.PagesNameTag: name = (string)tag.Value!; break;
                        case SlabGenMetrics.AllocatorTag: id = (int)tag.Value!; break;
                    }
                }

                lock (measurements)
                {
                    measurements.Add((instrument.Name, value, name, id, order));
                }
            });
            // Other test classes use the shared allocator at the same time: its arena count may move while we read.
            // Their recorded counters reach this listener on their threads, hence the lock.
            int before = PageAllocator.Shared.ArenaCount;
            listener.RecordObservableInstruments();
            int after = PageAllocator.Shared.ArenaCount;
            List<(string Instrument, long Value, string? Name, int? Id, int? Order)> seen;
            lock (measurements)
            {
                seen = [.. measurements.Where(static m => m.Instrument.StartsWith("slabgen.pages.", StringComparison.Ordinal) && !m.Instrument.EndsWith(".leaked_disposals", StringComparison.Ordinal))];
            }

            Assert.All(seen.Where(static m => m.Instrument.StartsWith("slabgen.pages.", StringComparison.Ordinal)), static m => Assert.NotNull(m.Name));
            Assert.Equal(Enumerable.Range(0, PageAllocator.MaxOrder + 1).Cast<int?>(),
                seen.Where(static m => m.Instrument == "slabgen.pages.free_blocks" && m.Name == "shared").Select(static m => m.Order));
            long arenas = seen.Single(static m => m.Instrument == "slabgen.pages.arenas" && m.Name == "shared").Value;
            Assert.InRange(arenas, Math.Max(1, Math.Min(before, after)), Math.Max(before, after));
            Assert.InRange(seen.Single(static m => m.Instrument == "slabgen.pages.os_bytes" && m.Name == "shared").Value,
                Math.Min(before, after) * (4L << 20), Math.Max(before, after) * (4L << 20));

            // The budget: its own series, its id beside its name, its own free blocks (nothing else touches it).
            var mine = seen.Where(m => m.Name == "metrics-budget").ToList();
            Assert.All(mine, m => Assert.Equal(budget.Id, m.Id));
            Assert.Equal(1, mine.Single(static m => m.Instrument == "slabgen.pages.arenas").Value);
            Assert.Equal(4L << 20, mine.Single(static m => m.Instrument == "slabgen.pages.os_bytes").Value);
            Assert.Equal(budget.BuddyInfo().FreeBlocks, mine.Where(static m => m.Instrument == "slabgen.pages.free_blocks").OrderBy(static m => m.Order).Select(static m => m.Value));
            Assert.True(budget.BuddyInfo().FreeBlocks.Select(static (b, o) => b << o).Sum() < 1024, "the budget's 8 pages are not free");
        }
        finally
        {
            PageAllocator.Shared.FreePages(page, 2);
            budget.FreePages(block, 3);
            budget.Dispose();
        }

        var after2 = new List<string?>();
        using var again = Listen((instrument, _, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == SlabGenMetrics.PagesNameTag)
                {
                    lock (after2)
                    {
                        after2.Add((string?)tag.Value);
                    }
                }
            }
        });
        again.RecordObservableInstruments();
        lock (after2)
        {
            Assert.DoesNotContain("metrics-budget", after2); // a disposed allocator leaves the instruments
        }
    }

    [Fact]
    public void A_destroyed_cache_leaves_the_instruments()
    {
        KmemCache cache = KmemCache.Create("metrics-gone", 64, 0);
        cache.Free(cache.Alloc());
        Assert.NotEmpty(Collect(SlabGenMetrics.CacheTag, "metrics-gone"));

        cache.Destroy();

        Assert.Empty(Collect(SlabGenMetrics.CacheTag, "metrics-gone"));
    }

    [Fact]
    public void Vmalloc_instruments_count_the_live_areas_and_their_bytes()
    {
        // Other test classes vmalloc at the same time: a round counts only when nothing else moved in between.
        const int Pages = 37;
        bool counted = false;
        for (int round = 0; round < 50 && !counted; round++)
        {
            (long areas0, long bytes0) = VmallocValues();
            void* area = SlabGen.Kmem.Vmalloc(Pages * PageAllocator.PageSize);
            (long areas1, long bytes1) = VmallocValues();
            SlabGen.Kmem.Vfree(area);
            (long areas2, long bytes2) = VmallocValues();
            counted = areas1 == areas0 + 1 && areas2 == areas0
                && bytes1 == bytes0 + Pages * PageAllocator.PageSize && bytes2 == bytes0;
        }

        Assert.True(counted, "the vmalloc instruments never moved by one area of 37 pages");
    }

    private static (long Areas, long Bytes) VmallocValues()
    {
        var values = new Dictionary<string, long>();
        using var listener = Listen((instrument, value, _, _) => values[instrument.Name] = value);
        listener.RecordObservableInstruments();
        // Before the process's first vmalloc the instruments do not exist yet: nothing is live.
        return (values.GetValueOrDefault("slabgen.vmalloc.areas"), values.GetValueOrDefault("slabgen.vmalloc.size"));
    }

    private static Dictionary<string, long> Collect(string tag, string tagValue)
    {
        var values = new Dictionary<string, long>();
        using var listener = Listen((instrument, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> t in tags)
            {
                if (t.Key == tag && (string?)t.Value == tagValue)
                {
                    values[instrument.Name] = value;
                }
            }
        });
        listener.RecordObservableInstruments();
        return values;
    }

    private static MeterListener Listen(MeasurementCallback<long> onMeasurement)
    {
        var listener = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                // Observable instruments only: the recorded ones call back on the threads of other tests, and a callback
                // that allocates there would fail their no-allocation checks.
                if (instrument.Meter.Name == SlabGenMetrics.MeterName && instrument.IsObservable)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback(onMeasurement);
        listener.Start();
        return listener;
    }
}
