namespace SlabGen.Tests.Slab;

public sealed class SharedArrayTests
{
    [Fact]
    public void Batches_leave_whole_and_in_the_order_they_came_and_a_full_ring_refuses_without_change()
    {
        var shared = new SharedArray(4, 3);
        Assert.Equal(0, shared.Take(new nint[3]));
        for (int b = 0; b < 4; b++)
        {
            Assert.True(shared.TryPut([b * 10 + 1, b * 10 + 2, b * 10 + 3]));
        }

        Assert.False(shared.TryPut([99, 99, 99]));
        Assert.Equal(12, shared.Avail);
        var into = new nint[3];
        for (int b = 0; b < 4; b++)
        {
            Assert.Equal(3, shared.Take(into));
            Assert.Equal([b * 10 + 1, b * 10 + 2, b * 10 + 3], into);
        }

        Assert.Equal(0, shared.Take(into));
        Assert.Equal(0, shared.Avail);
        Assert.True(shared.TryPut([7, 8, 9])); // the slots wrap around
        Assert.Equal(3, shared.Take(into));
        Assert.Equal([7, 8, 9], into);
    }

    [Fact]
    public void Threads_putting_and_taking_at_once_lose_and_duplicate_nothing()
    {
        const int ThreadCount = 4;
        const int BatchesPerThread = 20_000;
        const int BatchCount = 60;
        var shared = new SharedArray(8, BatchCount);
        var taken = new long[ThreadCount];
        var takenSum = new long[ThreadCount];
        long putSum = 0;
        Stress.RunThreads(ThreadCount, (self, barrier) =>
        {
            var batch = new nint[BatchCount];
            var into = new nint[BatchCount];
            long mySum = 0;
            for (int n = 0; n < BatchesPerThread; n++)
            {
                // Every value is distinct across threads and batches, and a batch's values belong together.
                long first = ((long)self * BatchesPerThread + n) * BatchCount + 1;
                for (int i = 0; i < BatchCount; i++)
                {
                    batch[i] = (nint)(first + i);
                }

                while (!shared.TryPut(batch))
                {
                    Drain(self, into);
                }

                mySum += BatchCount * first + (BatchCount * (BatchCount - 1) / 2);
                if (n % 2 == 0)
                {
                    Drain(self, into);
                }
            }

            Interlocked.Add(ref putSum, mySum);
            barrier.SignalAndWait();
            while (Drain(self, into))
            {
            }
        });

        long total = ThreadCount * (long)BatchesPerThread * BatchCount;
        Assert.Equal(total, taken.Sum());
        Assert.Equal(putSum, takenSum.Sum());
        Assert.Equal(0, shared.Avail);

        bool Drain(int self, nint[] into)
        {
            int count = shared.Take(into);
            if (count == 0)
            {
                return false;
            }

            Assert.Equal(BatchCount, count);
            for (int i = 1; i < count; i++)
            {
                Assert.Equal(into[0] + i, into[i]); // a batch arrives whole, never mixed with another's entries
            }

            taken[self] += count;
            takenSum[self] += into.Sum(static v => (long)v);
            return true;
        }
    }
}
