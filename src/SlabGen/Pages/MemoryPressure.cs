// Trimming when the GC reports memory pressure, as ArrayPool<T>.Shared does (its Gen2GcCallback): an object that
// re-registers itself for finalization runs once after every gen-2 collection, on the finalizer thread, and trims
// every allocator that opted in (PageAllocatorOptions.TrimOnMemoryPressure). Nothing of it is on an allocation path.
// Under high memory load (90% of the GC's high-load threshold, ArrayPool's "high" pressure) every thread's state is
// drained; otherwise only the state that took no slow path since the last trim.
namespace SlabGen;

internal static class MemoryPressure
{
    private static readonly Lock s_lock = new();
    private static readonly List<PageAllocator> s_allocators = [];
    private static bool s_callbackCreated;

    public static void Add(PageAllocator allocator)
    {
        lock (s_lock)
        {
            s_allocators.Add(allocator);
            if (!s_callbackCreated)
            {
                s_callbackCreated = true;
                _ = new Gen2Callback();
            }
        }
    }

    public static void Remove(PageAllocator allocator)
    {
        lock (s_lock)
        {
            s_allocators.Remove(allocator);
        }
    }

    /// <summary>Trims every opted-in allocator; returns the bytes given back to the OS. Tests call it directly.</summary>
    public static long Trim(bool highLoad)
    {
        PageAllocator[] allocators;
        lock (s_lock)
        {
            allocators = [.. s_allocators];
        }

        long released = 0;
        foreach (PageAllocator allocator in allocators)
        {
            released += allocator.TrimForPressure(highLoad);
        }

        return released;
    }

    /// <summary>Whether the GC's last collection saw the memory load at 90% of its high-load threshold or more.</summary>
    private static bool IsHighLoad()
    {
        GCMemoryInfo info = GC.GetGCMemoryInfo();
        return info.MemoryLoadBytes >= info.HighMemoryLoadThresholdBytes * 0.90;
    }

    private sealed class Gen2Callback
    {
        private int _lastGen2 = GC.CollectionCount(2);

        ~Gen2Callback()
        {
            // Finalized after the collections that find it unreachable: gen 0 and 1 at first, gen 2 once promoted.
            int gen2 = GC.CollectionCount(2);
            if (gen2 != _lastGen2 && !Environment.HasShutdownStarted)
            {
                _lastGen2 = gen2;
                Trim(IsHighLoad());
            }

            GC.ReRegisterForFinalize(this);
        }
    }
}
