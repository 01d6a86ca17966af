// Noticing that a thread has exited, without anyone asking. Each thread that makes per-thread state gets a
// sentinel object that only its thread static references. When the thread exits, its thread statics go, the
// sentinel becomes unreachable, and the GC finalizes it: the finalizer reaps every registry's exited threads, so
// their blocks and cached objects come back at the first GC after the exit. Registrations and drains reap too,
// so a process that never collects loses nothing either; it only gets the memory back later.
namespace SlabGen;

internal sealed class ThreadExitWatch
{
    [ThreadStatic]
    private static ThreadExitWatch? t_sentinel;

    private ThreadExitWatch()
    {
    }

    /// <summary>Watches the calling thread (once).</summary>
    public static void Watch() => t_sentinel ??= new ThreadExitWatch();

    ~ThreadExitWatch()
    {
        PerThreadRegistry.ReapEverywhere();
    }
}
