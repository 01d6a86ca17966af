using System.Collections.Concurrent;

namespace SlabGen.Tests.PerThread;

/// <summary>
/// A thread that stays alive, blocked on a queue, between the pieces of work given to it: the "live but idle"
/// thread whose per-thread state other threads must be able to drain.
/// </summary>
internal sealed class ParkedThread : IDisposable
{
    private readonly BlockingCollection<(Action Work, TaskCompletionSource Done)> _work = new();
    private readonly Thread _thread;

    public ParkedThread(Action? work = null)
    {
        _thread = new Thread(() =>
        {
            foreach ((Action work, TaskCompletionSource done) in _work.GetConsumingEnumerable())
            {
                try
                {
                    work();
                    done.SetResult();
                }
                catch (Exception e)
                {
                    done.SetException(e);
                }
            }
        }) { IsBackground = true };
        _thread.Start();
        if (work is not null)
        {
            Invoke(work);
        }
    }

    public bool IsAlive => _thread.IsAlive;

    /// <summary>Runs <paramref name="work"/> on the parked thread and waits for it; its exception is rethrown here.</summary>
    public void Invoke(Action work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add((work, done));
        done.Task.GetAwaiter().GetResult();
    }

    public void Dispose()
    {
        _work.CompleteAdding();
        _thread.Join();
        _work.Dispose();
    }

    /// <summary>Runs <paramref name="work"/> on a new thread and waits for that thread to exit.</summary>
    public static void RunAndExit(Action work)
    {
        Exception? error = null;
        var thread = new Thread(() =>
        {
            try
            {
                work();
            }
            catch (Exception e)
            {
                error = e;
            }
        });
        thread.Start();
        thread.Join();
        if (error is not null)
        {
            throw new InvalidOperationException("The thread's work failed.", error);
        }
    }
}
