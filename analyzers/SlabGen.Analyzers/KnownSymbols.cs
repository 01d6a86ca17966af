// The SlabGen symbols the interrupt-context rules look for (SLAB1xx), found once per compilation, and the questions
// the rules ask of them.
using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>The SlabGen symbols the rules look for, found once per compilation.</summary>
internal sealed class KnownSymbols
{
    private readonly INamedTypeSymbol _interruptContext;
    private readonly INamedTypeSymbol? _interruptScopes;
    private readonly INamedTypeSymbol? _maySleep;
    private readonly INamedTypeSymbol? _kmem;
    private readonly INamedTypeSymbol? _gfpFlags;
    private readonly long _atomic;
    private readonly HashSet<string> _userListed;

    private KnownSymbols(INamedTypeSymbol interruptContext, INamedTypeSymbol? maySleep, INamedTypeSymbol? kmem,
        INamedTypeSymbol? gfpFlags, long atomic, HashSet<string> userListed)
    {
        _interruptContext = interruptContext;
        _interruptScopes = interruptContext.ContainingAssembly.GetTypeByMetadataName("SlabGen.InterruptContext");
        _maySleep = maySleep;
        _kmem = kmem;
        _gfpFlags = gfpFlags;
        _atomic = atomic;
        _userListed = userListed;
    }

    public static KnownSymbols? Create(Compilation compilation, AnalyzerConfigOptions options)
    {
        INamedTypeSymbol? interruptContext = compilation.GetTypeByMetadataName("SlabGen.InterruptContextAttribute");
        if (interruptContext is null)
        {
            return null;
        }

        INamedTypeSymbol? gfpFlags = compilation.GetTypeByMetadataName("SlabGen.GfpFlags");
        long atomic = gfpFlags?.GetMembers("Atomic").OfType<IFieldSymbol>().FirstOrDefault()?.ConstantValue is { } value
            ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)
            : 0;
        options.TryGetValue("build_property." + InterruptContextAnalyzer.MaySleepMethodsKey, out string? fromProperty);
        options.TryGetValue(InterruptContextAnalyzer.MaySleepMethodsKey, out string? fromConfig);
        var userListed = new HashSet<string>(
            $"{fromProperty},{fromConfig}".Split([',', ';', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries),
            StringComparer.Ordinal);
        return new KnownSymbols(interruptContext, compilation.GetTypeByMetadataName("SlabGen.MaySleepAttribute"),
            compilation.GetTypeByMetadataName("SlabGen.Kmem"), gfpFlags, atomic, userListed);
    }

    /// <summary>The member, its type, or (for a local function or lambda) the member around it carries [InterruptContext].</summary>
    public bool IsInterruptContext(ISymbol symbol)
    {
        for (ISymbol? s = symbol; s is not null; s = s.ContainingSymbol)
        {
            if (HasAttribute(s, _interruptContext))
            {
                return true;
            }

            if (s is INamespaceSymbol)
            {
                return false;
            }
        }

        return false;
    }

    /// <summary>Whether <paramref name="operation"/> is a call of <c>InterruptContext.Enter()</c>, which opens a scope.</summary>
    public bool IsEnterScope(IOperation? operation) =>
        operation is IInvocationOperation { TargetMethod.Name: "Enter" } invocation
        && SymbolEqualityComparer.Default.Equals(invocation.TargetMethod.ContainingType, _interruptScopes);

    public bool IsVmalloc(IMethodSymbol method) =>
        SymbolEqualityComparer.Default.Equals(method.ContainingType, _kmem) && method.Name is "Vmalloc" or "Vzalloc" or "Kvmalloc";

    public bool IsMaySleep(IMethodSymbol method) => _maySleep is not null && HasAttribute(method.OriginalDefinition, _maySleep);

    /// <summary>A loop, not LINQ with a closure: the analyzers ask this of every call they see.</summary>
    private static bool HasAttribute(ISymbol symbol, INamedTypeSymbol attribute)
    {
        foreach (AttributeData data in symbol.GetAttributes())
        {
            if (SymbolEqualityComparer.Default.Equals(data.AttributeClass, attribute))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A constant GfpFlags argument, given or defaulted, that may sleep: without Atomic (Kernel, Zero alone, none).</summary>
    public bool IsKernelFlags(IArgumentOperation argument) =>
        _atomic != 0
        && SymbolEqualityComparer.Default.Equals(argument.Parameter?.Type, _gfpFlags)
        && argument.Value.ConstantValue is { HasValue: true, Value: { } value }
        && (Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) & _atomic) == 0;

    /// <summary>Whether the argument's expression names GfpFlags.Kernel itself.</summary>
    public bool NamesKernel(IArgumentOperation argument) =>
        argument.Value.DescendantsAndSelf().Any(o => o is IFieldReferenceOperation { Field.Name: "Kernel" } field
            && SymbolEqualityComparer.Default.Equals(field.Field.ContainingType, _gfpFlags));

    public bool IsUserListed(IMethodSymbol method) => _userListed.Count != 0
        && _userListed.Contains(BlockingApis.MetadataName(method.ContainingType.OriginalDefinition) + "." + method.Name);
}
