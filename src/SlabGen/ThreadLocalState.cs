// Per-thread state of allocators and caches, found in O(1) without a dictionary: every owner (a page
// allocator or a slab cache) takes a small id, and each thread has one array of states indexed by it.
using System.Runtime.CompilerServices;

namespace SlabGen;

/// <summary>A thread's state for one owner. The owner check tells a live state from one left by a disposed owner.</summary>
internal abstract class ThreadLocalState(object owner)
{
    public readonly object Owner = owner;
}

internal static class ThreadLocals
{
    [ThreadStatic]
    private static ThreadLocalState?[]? t_slots;

    /// <summary>The calling thread's state for the owner with <paramref name="id"/>, whoever left it; null if none.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ThreadLocalState? Find(int id)
    {
        ThreadLocalState?[]? slots = t_slots;
        return slots is not null && (uint)id < (uint)slots.Length ? slots[id] : null;
    }

    /// <summary>Stores the calling thread's state for <paramref name="id"/>, dropping any state a former owner left there.</summary>
    public static void Set(int id, ThreadLocalState state)
    {
        ThreadLocalState?[]? slots = t_slots;
        if (slots is null || id >= slots.Length)
        {
            Array.Resize(ref slots, Math.Max(id + 1, (slots?.Length ?? 4) * 2));
            t_slots = slots;
        }

        slots[id] = state;
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
