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
    public void Pools_made_from_one_pinned_memory_share_its_array_but_not_their_sections_or_budgets()
    {
        var memory = new PinnedPoolMemory(pools: 2, maxBytesPerPool: 8 << 20);
        SlabMemoryPool first = memory.TryCreatePool("shared-array-a")!, second = memory.TryCreatePool("shared-array-b")!;
        Assert.Null(memory.TryCreatePool("shared-array-c"));
        Assert.Equal(0, memory.PoolsLeft);

        var owners = new List<IMemoryOwner<byte>>();
        Assert.Throws<InsufficientMemoryException>((Action)(() =>
        {
            while (true)
            {
                IMemoryOwner<byte> owner = first.Rent();
                owner.Memory.Span.Fill(0xa1);
                owners.Add(owner);
            }
        }));
        using IMemoryOwner<byte> other = second.Rent(); // the first pool's exhaustion is its own
        other.Memory.Span.Fill(0xb2);
        Assert.True(MemoryMarshal.TryGetArray<byte>(owners[0].Memory, out ArraySegment<byte> a));
        Assert.True(MemoryMarshal.TryGetArray<byte>(other.Memory, out ArraySegment<byte> b));
        Assert.Same(a.Array, b.Array);
        Assert.True(Math.Abs(a.Offset - b.Offset) >= 3 * (4 << 20) - (1 << 20), "the pools' buffers are in different sections");
        Assert.All(owners, static o => Assert.True(o.Memory.Span.IndexOfAnyExcept((byte)0xa1) < 0));
        Assert.Equal(first.CapacityBytes, second.CapacityBytes);
        owners.ForEach(static o => o.Dispose());
        first.Dispose();
        second.Dispose();

        Assert.Throws<ArgumentOutOfRangeException>(() => new PinnedPoolMemory(0, 8 << 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PinnedPoolMemory(1, 1 << 20));
        Assert.Throws<ArgumentOutOfRangeException>(() => new PinnedPoolMemory(PinnedPoolMemory.MaxPools(1 << 30) + 1, 1 << 30));
        Assert.Equal(1, PinnedPoolMemory.MaxPools(1 << 30));
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
                // Not rented/used: recorded on every rent of every test's pools, their callbacks would allocate on those threads.
                if (instrument.Meter.Name == SlabGenMetrics.MeterName && instrument.Name is "slabgen.memory_pool.rent_failures" or "slabgen.memory_pool.capacity")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            bool mine = false;
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                mine |= tag.Key == "slabgen.memory_pool.owner" && (tag.Value as string) == "budget-metrics";
            }

            if (!mine)
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
        IMemoryOwner<byte> kept = pool.Rent();
        kept.Memory.Span.Fill(0x77);
        (byte[] array, int[] offsets) = Residency.Burst(pool, 3000);
        long residentDuring = 3000L * 4096; // written by the burst
        long given = pool.Trim();

        long residentAfter = Residency.ResidentBytes(array, offsets);
        Assert.True(given >= 10L << 20, $"Trim gave back {given} bytes");
        Assert.True(residentAfter < 1L << 20, $"{residentAfter} bytes of the burst's pages still resident after Trim (were {residentDuring})");
        Assert.True(kept.Memory.Span.IndexOfAnyExcept((byte)0x77) < 0, "a buffer still rented lost its contents");
        using (IMemoryOwner<byte> again = pool.Rent())
        {
            again.Memory.Span.Fill(7);
            Assert.True(again.Memory.Span.IndexOfAnyExcept((byte)7) < 0);
        }

        kept.Dispose();
        Assert.Equal(0, new SlabMemoryPool(KmallocAllocator.Shared, "budget-not-own").Trim()); // caches it does not own are left alone
        pool.Dispose();
    }

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
