// Where an allocation came from, for the StoreUser debug mode's reports and the interrupt-context message: both
// layers that report it (Context/ and Slab/) use this one walk of the stack.
using System.Diagnostics;

namespace SlabGen;

/// <summary>
/// The caller of a SlabGen allocation, for StoreUser and the interrupt-context message: the first frame outside SlabGen
/// and outside the [SlabCache] generator's code (which lives in the caller's assembly, in files named by
/// <see cref="Contract.GeneratedFileSuffix"/>; without file information, its members are told by their names).
/// </summary>
internal static class AllocationSite
{
    private static readonly string[] GeneratedMembers = ["Alloc", "TryAlloc", "New", "TryNew", "Free", "get_ThisThread"];

    public static string Capture() => Capture(fileInfo: true);

    /// <summary>
    /// The caller as its method and IL offset, without reading symbols, for sampled allocations: reading symbols
    /// loads the symbol reader, whose thread statics then take the runtime's inline thread-static storage from types
    /// first used after it, and every later access to theirs goes through a lookup (measured: Kmem.Kmalloc's table,
    /// 1.3 ns a pair). GWP-ASan reports raw frames for the same reason.
    /// </summary>
    public static string CaptureWithoutFiles() => Capture(fileInfo: false);

    private static string Capture(bool fileInfo)
    {
        foreach (StackFrame frame in new StackTrace(0, fileInfo).GetFrames()) // SlabGen's own frames are skipped below
        {
            DiagnosticMethodInfo? method = DiagnosticMethodInfo.Create(frame);
            if (method is null || method.DeclaringAssemblyName.StartsWith("SlabGen,", StringComparison.Ordinal))
            {
                continue;
            }

            string? file = frame.GetFileName();
            if (file is not null ? file.EndsWith(Contract.GeneratedFileSuffix, StringComparison.Ordinal) : GeneratedMembers.Contains(method.Name))
            {
                continue;
            }

            string name = $"{method.DeclaringTypeName}.{method.Name}";
            return file is not null ? $"{Path.GetFileName(file)}:{frame.GetFileLineNumber()} ({name})"
                : fileInfo || frame.GetILOffset() < 0 ? name
                : $"{name} + IL_{frame.GetILOffset():x4}";
        }

        return "an unknown site";
    }
}
