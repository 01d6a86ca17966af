// What a server programmer adds up and watches: a named pool's own caches, the budget as configured and as the pages hold
// it, the reserve kept for error answers, and the rent-failure and capacity instruments.
using System.Buffers;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;

namespace SlabGen.Tests.Kmem;

public sealed partial class SlabMemoryPoolBudgetTests
{
    [Fact]
    public void A_named_pool_rents_from_its_own_caches_which_go_with_the_pool_once_its_buffers_are_back()
    {
        var pool = new SlabMemoryPool(kmalloc: null, owner: "budget-pipes");
        IMemoryOwner<byte> buffer = pool.Rent();
        buffer.Memory.Span.Fill(0x33);

        Assert.Equal("budget-pipes", pool.Kmalloc.Name);
        Assert.Contains(SlabInfo.Snapshot(), static e => e.Name == "budget-pipes-kmalloc-4k" && e.TotalObjects > 0);
        Assert.Null(pool.MaxBytes);      // over the shared page allocator: nothing caps it
        Assert.Null(pool.CapacityBytes);
        pool.Dispose();
        Assert.Contains(SlabInfo.Snapshot(), static e => e.Name == "budget-pipes-kmalloc-4k"); // a buffer is still out
        Assert.True(buffer.Memory.Span.IndexOfAnyExcept((byte)0x33) < 0);
        buffer.Dispose();
        Assert.DoesNotContain(SlabInfo.Snapshot(), static e => e.Name.StartsWith("budget-pipes-", StringComparison.Ordinal));

        using var unnamed = new SlabMemoryPool();
        Assert.Same(KmallocAllocator.Shared, unnamed.Kmalloc);
    }

    [Fact]
    public async Task An_exhausted_pinned_pool_names_its_budget_as_configured_and_as_held_and_keeps_a_reserve_for_error_answers()
    {
        SlabMemoryPool pool = SlabMemoryPool.CreatePinned(8 << 20, "budget-reserve");
        int failed = 0;
        pool.RentFailed += (p, size) =>
        {
            Assert.Same(pool, p);
            Assert.Equal(4096, size);
            failed++;
        };
        var owners = new List<IMemoryOwner<byte>>();
        var full = Assert.Throws<InsufficientMemoryException>((Action)(() =>
        {
            while (true)
            {
                owners.Add(pool.Rent());
            }
        }));

        Assert.Equal(8 << 20, pool.MaxBytes);
        Assert.Equal(12_382_208, pool.CapacityBytes); // 3 sections of 4 MiB less their page frames
        Assert.Contains("configured 8,388,608 bytes, rounded up to 3 sections of 4 MiB", full.Message, StringComparison.Ordinal);
        Assert.Contains("capacity of 12,382,208 bytes", full.Message, StringComparison.Ordinal);
        Assert.Equal(1, failed);
        Assert.Equal(1, pool.RentFailures);
        Assert.Contains("16 buffers of 4 KiB of it kept for error answers", full.Message, StringComparison.Ordinal);
        Assert.InRange(pool.CapacityBytes!.Value - pool.RentedBytes, SlabMemoryPool.ReserveBytes, SlabMemoryPool.ReserveBytes + (64 << 10));

        // Inside a reserve scope (and the tasks it starts) the last 64 KiB can be rented; outside it again not.
        using (SlabMemoryPool.UseReserve())
        {
            using (SlabMemoryPool.UseReserve())
            {
                owners.Add(pool.Rent());
            }

            owners.Add(await Task.Run(() => pool.Rent()));
        }

        Assert.Throws<InsufficientMemoryException>(() => pool.Rent());
        Assert.Equal(2, pool.RentFailures);
        Assert.All(owners, static (o, i) => o.Memory.Span.Fill((byte)i));
        Assert.All(owners, static (o, i) => Assert.True(o.Memory.Span.IndexOfAnyExcept((byte)i) < 0));

        owners.ForEach(static o => o.Dispose());
        using IMemoryOwner<byte> again = pool.Rent();
        Assert.Equal(4096, again.Memory.Length);
        pool.Dispose();
    }

    [Fact]
    public void Rent_failures_and_capacity_are_instruments_per_owner()
    {
        SlabMemoryPool first = SlabMemoryPool.CreatePinned(8 << 20, "budget-metrics");
        SlabMemoryPool second = SlabMemoryPool.CreatePinned(16 << 20, "budget-metrics");
        long failures = 0;
        long? capacity = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Meter.Name == SlabGenMetrics.MeterName && instrument.Name.StartsWith("slabgen.memory_pool.", StringComparison.Ordinal))
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            if (!tags.ToArray().Contains(new KeyValuePair<string, object?>("slabgen.memory_pool.owner", "budget-metrics")))
            {
                return;
            }

            if (instrument.Name == "slabgen.memory_pool.rent_failures")
            {
                failures += value;
            }
            else if (instrument.Name == "slabgen.memory_pool.capacity")
            {
                capacity = value;
            }
        });
        listener.Start();

        listener.RecordObservableInstruments();
        Assert.Equal(first.CapacityBytes + second.CapacityBytes, capacity);
        var owners = new List<IMemoryOwner<byte>>();
        Assert.Throws<InsufficientMemoryException>((Action)(() =>
        {
            while (true)
            {
                owners.Add(first.Rent(64 << 10));
            }
        }));
        Assert.Throws<InsufficientMemoryException>(() => first.Rent(4096));
        Assert.Equal(2, failures);

        owners.ForEach(static o => o.Dispose());
        first.Dispose();
        listener.RecordObservableInstruments();
        Assert.Equal(second.CapacityBytes, capacity);
        second.Dispose();
    }

    [Fact]
    public unsafe void Trim_after_a_burst_gives_the_free_pages_of_a_pinned_pool_back_to_the_OS_and_the_pool_still_serves()
    {
        if (!OperatingSystem.IsLinux())
        {
            return; // mincore and MADV_DONTNEED: Linux
        }

        SlabMemoryPool pool = SlabMemoryPool.CreatePinned(16 << 20, "budget-trim");
        var burst = new List<IMemoryOwner<byte>>();
        for (int i = 0; i < 3000; i++)
        {
            IMemoryOwner<byte> buffer = pool.Rent();
            buffer.Memory.Span.Fill((byte)i);
            burst.Add(buffer);
        }

        Assert.True(MemoryMarshal.TryGetArray<byte>(burst[0].Memory, out ArraySegment<byte> segment));
        byte[] array = segment.Array!;
        long residentDuring = ResidentBytes(array);
        Assert.True(residentDuring >= 3000L * 4096, $"{residentDuring} bytes resident under 3,000 written buffers");
        IMemoryOwner<byte> kept = burst[^1];
        burst.RemoveAt(burst.Count - 1);
        burst.ForEach(static b => b.Dispose());

        long given = pool.Trim();

        long residentAfter = ResidentBytes(array);
        Assert.True(given >= 10L << 20, $"Trim gave back {given} bytes");
        Assert.True(residentAfter < 2L << 20, $"{residentAfter} bytes of the array still resident after Trim (were {residentDuring})");
        Assert.True(kept.Memory.Span.IndexOfAnyExcept(unchecked((byte)2999)) < 0, "a buffer still rented lost its contents");
        using (IMemoryOwner<byte> again = pool.Rent())
        {
            again.Memory.Span.Fill(7);
            Assert.True(again.Memory.Span.IndexOfAnyExcept((byte)7) < 0);
        }

        kept.Dispose();
        Assert.Equal(0, new SlabMemoryPool(KmallocAllocator.Shared, "budget-not-own").Trim()); // caches it does not own are left alone
        pool.Dispose();
    }

    /// <summary>The bytes of <paramref name="array"/>'s whole pages that are resident (mincore).</summary>
    internal static unsafe long ResidentBytes(byte[] array)
    {
        fixed (byte* start = array)
        {
            nuint first = ((nuint)start + 4095) & ~(nuint)4095;
            nuint pages = ((nuint)start + (nuint)array.Length - first) / 4096;
            byte[] vector = new byte[pages];
            fixed (byte* v = vector)
            {
                Assert.Equal(0, mincore((nint)first, pages * 4096, v));
            }

            return vector.Count(static b => (b & 1) != 0) * 4096L;
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int mincore(nint address, nuint length, byte* vector);

    [Fact]
    public unsafe void The_meter_reports_a_cache_from_its_first_slab_until_it_is_destroyed()
    {
        using var kmalloc = new KmallocAllocator(PageAllocator.Shared, "budget-idle");
        Assert.DoesNotContain("budget-idle-kmalloc-64", CacheNamesMeasured()); // never used: nothing but zeros to say
        Assert.Contains(SlabInfo.Snapshot(), static e => e.Name == "budget-idle-kmalloc-64"); // slabinfo shows every cache

        void* memory = kmalloc.Kmalloc(64);
        Assert.Contains("budget-idle-kmalloc-64", CacheNamesMeasured());
        Assert.DoesNotContain("budget-idle-kmalloc-128", CacheNamesMeasured());
        SlabGen.Kmem.Kfree(memory);
        SlabInfoEntry row = SlabInfo.Snapshot().Single(static e => e.Name == "budget-idle-kmalloc-64");
        KmemCache cache = kmalloc.Caches.Single(static c => c.Name == "budget-idle-kmalloc-64");
        cache.Shrink();
        Assert.Contains("budget-idle-kmalloc-64", CacheNamesMeasured()); // once in, it stays while the cache lives
        Assert.True(row.TotalObjects > 0);
    }

    private static List<string> CacheNamesMeasured()
    {
        var names = new List<string>();
        using var listener = new MeterListener
        {
            InstrumentPublished = static (instrument, l) =>
            {
                if (instrument.Meter.Name == SlabGenMetrics.MeterName && instrument.Name == "slabgen.cache.slabs")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((_, _, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == SlabGenMetrics.CacheTag)
                {
                    names.Add((string)tag.Value!);
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return names;
    }
}
