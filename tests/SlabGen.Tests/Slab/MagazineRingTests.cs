namespace SlabGen.Tests.Slab;

public sealed unsafe class MagazineRingTests
{
    [Fact]
    public void Magazines_leave_in_the_order_they_came_and_a_full_ring_refuses_without_change()
    {
        var ring = new MagazineRing(4);
        Assert.True(ring.TryTake() == null);
        for (nint m = 1; m <= 4; m++)
        {
            Assert.True(ring.TryPut((nint*)(m * 64)));
        }

        Assert.False(ring.TryPut((nint*)(99 * 64)));
        Assert.Equal(4, ring.Count);
        for (nint m = 1; m <= 4; m++)
        {
            Assert.Equal(m * 64, (nint)ring.TryTake());
        }

        Assert.True(ring.TryTake() == null);
        Assert.Equal(0, ring.Count);
        Assert.True(ring.TryPut((nint*)(7 * 64))); // the slots wrap around
        Assert.Equal(7 * 64, (nint)ring.TryTake());
    }

    [Fact]
    public void Threads_putting_and_taking_at_once_lose_and_duplicate_nothing()
    {
        const int ThreadCount = 4;
        const int PerThread = 200_000;
        var ring = new MagazineRing(8);
        var takenSum = new long[ThreadCount];
        var takenCount = new long[ThreadCount];
        Stress.RunThreads(ThreadCount, (self, barrier) =>
        {
            for (int n = 0; n < PerThread; n++)
            {
                // Every value is distinct across threads.
                var value = (nint*)(((long)self * PerThread) + n + 1);
                while (!ring.TryPut(value))
                {
                    Take(self);
                }

                if (n % 2 == 0)
                {
                    Take(self);
                }
            }

            barrier.SignalAndWait();
            while (Take(self))
            {
            }
        });

        long total = ThreadCount * (long)PerThread;
        Assert.Equal(total, takenCount.Sum());
        Assert.Equal(total * (total + 1) / 2, takenSum.Sum());
        Assert.Equal(0, ring.Count);

        bool Take(int self)
        {
            nint* value = ring.TryTake();
            if (value == null)
            {
                return false;
            }

            takenCount[self]++;
            takenSum[self] += (long)value;
            return true;
        }
    }
}
