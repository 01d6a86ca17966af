// How a thread finds its per-thread blocks (PerThreadBlock.cs) in O(1), without a dictionary or a GC-tracked
// thread static: every owner (a page allocator or a slab cache) takes a small id, and each thread has a pinned
// table of pointers to its per-owner blocks, reached through a raw-pointer thread static (the unmanaged TLS area:
// one helper call and one load, as a bare [ThreadStatic] free list). Each block starts with its owner's cookie,
// which is never reused, so a block left behind by a disposed owner whose id was reused is told apart
// (PerThreadBlock.IsOwnedBy). The other two routes to the same blocks, a generated type's thread static and
// kmalloc's per-thread table, are caches of this one for owners that are never destroyed (docs/per-thread.md).
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;

namespace SlabGen;

internal static unsafe class ThreadSlots
{
    private static long s_lastCookie;

    [ThreadStatic]
    private static nint* t_table;

    [ThreadStatic]
    private static int t_length;

    /// <summary>
    /// The thread's interrupt-context depth (<see cref="InterruptContext"/>): a pinned word, so each array-cache
    /// block can point at its thread's and the fast paths test it without a second thread-local access.
    /// </summary>
    [ThreadStatic]
    private static int* t_interruptDepth;

    /// <summary>Keeps the interrupt-depth word alive while the thread lives.</summary>
    [ThreadStatic]
    private static int[]? t_interruptDepthStorage;

    /// <summary>Keeps the table alive while the thread lives.</summary>
    [ThreadStatic]
    private static nint[]? t_tableStorage;

    /// <summary>The managed owner of each block (it keeps the pinned block alive while the thread lives).</summary>
    [ThreadStatic]
    private static object?[]? t_owners;

    /// <summary>Takes this class's thread statics into the runtime's inline storage as SlabGen loads (ThreadStaticStorage.cs).</summary>
    [ModuleInitializer]
    [SuppressMessage("Usage", "CA2255:The 'ModuleInitializer' attribute should not be used in libraries", Justification = "Claims the runtime's inline thread-static storage for a hot path before other code's thread statics can (ThreadStaticStorage.cs in PerThread/).")]
    internal static void ClaimThreadStatics() => ThreadStaticStorage.Claim(t_length + (t_table == null ? 0 : 1) + (t_interruptDepth == null ? 0 : 1));

    /// <summary>How deep the calling thread is in interrupt-context scopes.</summary>
    internal static int InterruptDepth
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get => t_interruptDepth == null ? 0 : *t_interruptDepth;
    }

    /// <summary>The calling thread's interrupt-depth word; it stays at one address for the thread's life.</summary>
    internal static int* InterruptDepthWord => t_interruptDepth != null ? t_interruptDepth : CreateInterruptDepthWord();

    /// <summary>A new cookie: never handed out twice in the process.</summary>
    public static long NewCookie() => Interlocked.Increment(ref s_lastCookie);

    /// <summary>The block in slot <paramref name="id"/> on this thread, whichever owner left it; null if none. -1 finds nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint* Find(int id) => (uint)id < (uint)t_length ? (nint*)t_table[id] : null;

    private static int* CreateInterruptDepthWord()
    {
        t_interruptDepthStorage = GC.AllocateArray<int>(1, pinned: true);
        t_interruptDepth = (int*)Unsafe.AsPointer(ref t_interruptDepthStorage[0]);
        return t_interruptDepth;
    }

    /// <summary>The managed object behind slot <paramref name="id"/> on this thread, whichever owner left it.</summary>
    public static object? Owner(int id)
    {
        object?[]? owners = t_owners;
        return owners is not null && (uint)id < (uint)owners.Length ? owners[id] : null;
    }

    /// <summary>Installs a block and the object that keeps it alive in slot <paramref name="id"/>, replacing any former owner's.</summary>
    public static void Set(int id, object owner, nint* block)
    {
        if (id >= t_length)
        {
            int length = Math.Max(id + 1, Math.Max(64, t_length * 2));
            nint[] storage = GC.AllocateArray<nint>(length, pinned: true);
            Array.Resize(ref t_owners, length);
            t_tableStorage?.CopyTo(storage, 0);
            t_tableStorage = storage;
            t_table = (nint*)Unsafe.AsPointer(ref storage[0]);
            t_length = length;
        }

        t_owners![id] = owner;
        t_table[id] = (nint)block;
    }
}

/// <summary>Small, reused ids for the owners of per-thread state; -1 is never handed out.</summary>
internal static class OwnerIds
{
    private static readonly Lock s_lock = new();
    private static readonly Stack<int> s_free = new();
    private static int s_next;

    public static int Take()
    {
        lock (s_lock)
        {
            return s_free.Count != 0 ? s_free.Pop() : s_next++;
        }
    }

    public static void Return(int id)
    {
        lock (s_lock)
        {
            s_free.Push(id);
        }
    }
}
