using System.Collections.Concurrent;

namespace SlabGen.Tests;

/// <summary>Runs one worker on several threads at once, for the bounded stress tests.</summary>
internal static class Stress
{
    /// <summary>
    /// Runs <paramref name="work"/>(thread index, barrier) on <paramref name="threadCount"/> threads, all of whom
    /// meet at the barrier between their phases, and asserts that none of them threw.
    /// </summary>
    public static void RunThreads(int threadCount, Action<int, Barrier> work)
    {
        using var barrier = new Barrier(threadCount);
        var errors = new ConcurrentQueue<Exception>();
        Thread[] threads = Enumerable.Range(0, threadCount).Select(self => new Thread(() =>
        {
            try
            {
                work(self, barrier);
            }
            catch (Exception e)
            {
                errors.Enqueue(e);
                barrier.RemoveParticipant();
            }
        })).ToArray();
        Array.ForEach(threads, t => t.Start());
        Array.ForEach(threads, t => t.Join());
        Assert.Empty(errors);
    }
}
