// The methods every analysed operation runs. A command-line build is one short process, in which the tiered JIT keeps
// a method at its first tier while new code is still being compiled (the compiler compiles new code all along): these
// are compiled optimized at once instead. MethodImplOptions.AggressiveOptimization is 512; netstandard2.0 lacks the name.
using System.Runtime.CompilerServices;

namespace SlabGen.Analyzers;

internal static class Hot
{
    /// <summary>MethodImplOptions.AggressiveOptimization.</summary>
    public const MethodImplOptions Path = (MethodImplOptions)512;
}
