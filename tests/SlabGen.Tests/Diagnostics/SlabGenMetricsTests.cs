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
    public void Page_instruments_report_the_shared_allocator()
    {
        void* page = PageAllocator.Shared.AllocPages(2);
        try
        {
            var measurements = new List<(string Instrument, long Value, int? Order)>();
            using var listener = Listen((instrument, value, tags, _) =>
            {
                int? order = null;
                foreach (KeyValuePair<string, object?> tag in tags)
                {
                    if (tag.Key == SlabGenMetrics.OrderTag)
                    {
                        order = (int)tag.Value!;
                    }
                }

                measurements.Add((instrument.Name, value, order));
            });
            // Other test classes use the shared allocator at the same time: its arena count may move while we read.
            int before = PageAllocator.Shared.ArenaCount;
            listener.RecordObservableInstruments();
            int after = PageAllocator.Shared.ArenaCount;

            Assert.Equal(Enumerable.Range(0, PageAllocator.MaxOrder + 1).Cast<int?>(),
                measurements.Where(static m => m.Instrument == "slabgen.pages.free_blocks").Select(static m => m.Order));
            long arenas = measurements.Single(static m => m.Instrument == "slabgen.pages.arenas").Value;
            Assert.InRange(arenas, Math.Max(1, Math.Min(before, after)), Math.Max(before, after));
            Assert.InRange(measurements.Single(static m => m.Instrument == "slabgen.pages.os_bytes").Value,
                Math.Min(before, after) * (4L << 20), Math.Max(before, after) * (4L << 20));
        }
        finally
        {
            PageAllocator.Shared.FreePages(page, 2);
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
        return (values["slabgen.vmalloc.areas"], values["slabgen.vmalloc.size"]);
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
                if (instrument.Meter.Name == SlabGenMetrics.MeterName)
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
