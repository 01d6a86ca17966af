// The references a test compilation needs: the running framework's assemblies and SlabGen itself. Linked into the
// generator and analyzer test projects, so both compile user code against the same set, with no NuGet reference pack.
using Microsoft.CodeAnalysis;

namespace SlabGen.Tests.Shared;

internal static class CompilationReferences
{
    public static readonly MetadataReference[] All =
    [
        .. ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Where(static path => Path.GetFileName(path).StartsWith("System.", StringComparison.Ordinal)
                || Path.GetFileName(path) is "mscorlib.dll" or "netstandard.dll")
            .Select(static path => MetadataReference.CreateFromFile(path)),
        MetadataReference.CreateFromFile(typeof(SlabCacheAttribute).Assembly.Location),
    ];
}
