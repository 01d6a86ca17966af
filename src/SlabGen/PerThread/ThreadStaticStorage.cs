// Why SlabGen's hot thread statics are read once as the assembly loads (the [ModuleInitializer]s of ThreadSlots and
// KmallocCaches).
//
// The runtime keeps the first thread statics a process initialises inline in each thread's own data, and the JIT
// reaches them with one add after the thread-local base (`add rax, 32`); those initialised after that space is taken
// live in a per-thread array, reached through a bounds check and two loads (`cmp dword ptr [rax], 14; jle …;
// mov rdi, [rax+8]; mov rbx, [rdi+0x70]`). Which is which depends only on the order of first use. Reading symbols
// (a stack trace with file and line, as an exception's ToString prints when PDBs are present) initialises the symbol
// reader's thread statics; a cache first used after that took the array path for the rest of the process: +1.3 ns a
// Kmalloc/Kfree pair, 30%, in the precise mode (found through sampling, which read symbols for its sites). Reading
// SlabGen's own thread statics when its module loads takes the inline space first, whatever the program does later.
// Only the two every untyped allocation reads: the space is small, and a generated type's thread static (in the
// program's own assembly, first used later) needs it too. Claiming the checked handles' generation counter as well
// pushed the benchmark's generated block out of it: the typed pair 12% slower (precise mode). A program that reads
// symbols before it loads SlabGen at all still comes first.
namespace SlabGen;

internal static class ThreadStaticStorage
{
    /// <summary>What the claims read, kept so that no read is optimised away.</summary>
    internal static long Claimed;

    /// <summary>Consumes a value read from thread statics.</summary>
    public static void Claim(long read) => Claimed += read;
}
