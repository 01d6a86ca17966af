// The Linux memory-mapping calls (sys/mman.h) every layer that maps memory itself uses: the arena space (ArenaSpace.cs)
// and the sampling pool and its fault handler (Slab/Sampling/). Linux only; callers test the platform first.
using System.Runtime.InteropServices;

namespace SlabGen;

internal static unsafe partial class Mman
{
    public const int ProtNone = 0;
    public const int ProtReadWrite = 1 | 2;
    public const int ProtReadExecute = 1 | 4;
    public const int MapPrivateAnonymous = 0x02 | 0x20;
    public const int MapNoReserve = 0x4000;
    public const int MapFixedNoReplace = 0x100000;
    public const int MadvDontNeed = 4;

    /// <summary>What mmap returns on failure.</summary>
    public const nint Failed = -1;

    [LibraryImport("libc", SetLastError = true)]
    public static partial nint mmap(nint address, nuint length, int protection, int flags, int fd, nint offset);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int munmap(nint address, nuint length);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int mprotect(nint address, nuint length, int protection);

    [LibraryImport("libc", SetLastError = true)]
    public static partial int madvise(nint address, nuint length, int advice);
}
