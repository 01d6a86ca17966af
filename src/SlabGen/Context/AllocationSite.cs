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

    public static string Capture()
    {
        foreach (StackFrame frame in new StackTrace(1, fNeedFileInfo: true).GetFrames())
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
            return file is null ? name : $"{Path.GetFileName(file)}:{frame.GetFileLineNumber()} ({name})";
        }

        return "an unknown site";
    }
}
