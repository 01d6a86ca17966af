// Which pages of a pinned pool's buffers are resident (mincore): how the tests see a pool's memory go back to the OS.
// Only the pages the test's own buffers used are counted: the rest of a pinned array may be resident for reasons of the
// GC's (memory of an earlier array, reused).
using System.Buffers;
using System.Runtime.InteropServices;

namespace SlabGen.Tests.Kmem;

internal static partial class Residency
{
    /// <summary>Rents <paramref name="count"/> 4 KiB buffers of <paramref name="pool"/>, writes them and returns them; gives the array and the buffers' offsets in it.</summary>
    public static (byte[] Array, int[] Offsets) Burst(SlabMemoryPool pool, int count)
    {
        var burst = new List<IMemoryOwner<byte>>();
        for (int i = 0; i < count; i++)
        {
            IMemoryOwner<byte> buffer = pool.Rent();
            buffer.Memory.Span.Fill(1);
            burst.Add(buffer);
        }

        byte[]? array = null;
        int[] offsets = [.. burst.Select(b =>
        {
            Assert.True(MemoryMarshal.TryGetArray<byte>(b.Memory, out ArraySegment<byte> segment));
            array = segment.Array;
            return segment.Offset;
        })];
        burst.ForEach(static b => b.Dispose());
        return (array!, offsets);
    }

    /// <summary>The bytes of the pages at <paramref name="offsets"/> of <paramref name="array"/> (4 KiB each) that are resident.</summary>
    public static unsafe long ResidentBytes(byte[] array, IEnumerable<int> offsets)
    {
        fixed (byte* start = array)
        {
            nuint first = ((nuint)start + 4095) & ~(nuint)4095;
            nuint pages = ((nuint)start + (nuint)array.Length - first) / 4096;
            byte[] vector = new byte[pages];
            fixed (byte* v = vector)
            {
                Assert.Equal(0, mincore((nint)first, pages * 4096, v));
            }

            nuint origin = (nuint)start;
            return offsets.Select(o => (origin + (nuint)o - first) / 4096).Distinct().Count(p => (vector[p] & 1) != 0) * 4096L;
        }
    }

    /// <summary>How many of the pages of [<paramref name="start"/>, + <paramref name="bytes"/>) are resident (the range page-aligned).</summary>
    public static unsafe int ResidentPages(void* start, nuint bytes)
    {
        nuint pages = (bytes + 4095) / 4096;
        byte[] vector = new byte[pages];
        fixed (byte* v = vector)
        {
            Assert.Equal(0, mincore((nint)start, pages * 4096, v));
        }

        return vector.Count(static b => (b & 1) != 0);
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int mincore(nint address, nuint length, byte* vector);
}
