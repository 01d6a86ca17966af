// Generations for checked handles: never the same twice in the process, without an atomic per allocation.
// Each thread takes a range of 2^32 generations with one interlocked increment and counts through it.
// Every generation has its top bit set, so neither a cleared word (0) nor a poisoned one (0x6b...) matches one.
using System.Runtime.CompilerServices;

namespace SlabGen;

internal static class HandleGenerations
{
    private const ulong Marker = 1UL << 63;

    private static long s_lastRange;

    [ThreadStatic]
    private static ulong t_next;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Next()
    {
        ulong generation = t_next;
        if ((uint)generation == 0)
        {
            generation = NewRange();
        }

        t_next = generation + 1;
        return generation;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong NewRange()
    {
        ulong range = (ulong)Interlocked.Increment(ref s_lastRange);
        if (range > int.MaxValue)
        {
            throw new InvalidOperationException("Checked-handle generations are exhausted (2^63 allocations).");
        }

        return Marker | (range << 32) | 1;
    }
}
