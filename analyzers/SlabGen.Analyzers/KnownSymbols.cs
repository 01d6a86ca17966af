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
    private readonly INamedTypeSymbol? _amortized;
    private readonly INamedTypeSymbol? _kmem;
    private readonly INamedTypeSymbol? _gfpFlags;
    private readonly long _atomic;
    private readonly HashSet<string> _userListed;

    private KnownSymbols(INamedTypeSymbol interruptContext, INamedTypeSymbol? maySleep, INamedTypeSymbol? kmem,
        INamedTypeSymbol? gfpFlags, long atomic, HashSet<string> userListed)
    {
        _interruptContext = interruptContext;
        _interruptScopes = interruptContext.ContainingAssembly.GetTypeByMetadataName(Contract.InterruptContext);
        _maySleep = maySleep;
        _amortized = interruptContext.ContainingAssembly.GetTypeByMetadataName(Contract.AmortizedAttribute);
        _kmem = kmem;
        _gfpFlags = gfpFlags;
        _atomic = atomic;
        _userListed = userListed;
    }

    /// <summary>
    /// The additional file (an <c>AdditionalFiles</c> item, as BannedApiAnalyzers reads BannedSymbols.txt) that lists
    /// more methods that may sleep, one <c>Namespace.Type.Method</c> per line; <c>#</c> starts a comment.
    /// </summary>
    public const string MaySleepFileName = "SlabGen.MaySleep.txt";

    public static KnownSymbols? Create(Compilation compilation, AnalyzerOptions analyzerOptions, System.Threading.CancellationToken cancellationToken = default)
    {
        KnownSymbols? known = Create(compilation, analyzerOptions.AnalyzerConfigOptionsProvider.GlobalOptions);
        if (known is null)
        {
            return null;
        }

        foreach (AdditionalText file in analyzerOptions.AdditionalFiles)
        {
            if (!string.Equals(System.IO.Path.GetFileName(file.Path), MaySleepFileName, StringComparison.OrdinalIgnoreCase)
                || file.GetText(cancellationToken) is not { } text)
            {
                continue;
            }

            foreach (Microsoft.CodeAnalysis.Text.TextLine line in text.Lines)
            {
                string entry = line.ToString();
                int comment = entry.IndexOf('#');
                entry = (comment >= 0 ? entry.Substring(0, comment) : entry).Trim();
                if (entry.Length != 0)
                {
                    known._userListed.Add(entry);
                }
            }
        }

        return known;
    }

    public static KnownSymbols? Create(Compilation compilation, AnalyzerConfigOptions options)
    {
        INamedTypeSymbol? interruptContext = compilation.GetTypeByMetadataName(Contract.InterruptContextAttribute);
        if (interruptContext is null)
        {
            return null;
        }

        INamedTypeSymbol? gfpFlags = compilation.GetTypeByMetadataName(Contract.GfpFlags);
        long atomic = gfpFlags?.GetMembers(Contract.AtomicFlag).OfType<IFieldSymbol>().FirstOrDefault()?.ConstantValue is { } value
            ? Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture)
            : 0;
        options.TryGetValue("build_property." + InterruptContextAnalyzer.MaySleepMethodsKey, out string? fromProperty);
        options.TryGetValue(InterruptContextAnalyzer.MaySleepMethodsKey, out string? fromConfig);
        var userListed = new HashSet<string>(
            $"{fromProperty},{fromConfig}".Split([',', ';', ' ', '\n', '\r', '\t'], StringSplitOptions.RemoveEmptyEntries),
            StringComparer.Ordinal);
        return new KnownSymbols(interruptContext, compilation.GetTypeByMetadataName(Contract.MaySleepAttribute),
            compilation.GetTypeByMetadataName(Contract.Kmem), gfpFlags, atomic, userListed);
    }

    /// <summary>
    /// Whether the member is in interrupt context: it, its type, or (for a local function or lambda) the member
    /// around it carries [InterruptContext], or it overrides or implements a member that is in interrupt context
    /// by its own attribute or its type's (a contract: every implementation is checked).
    /// </summary>
    public bool IsInterruptContext(ISymbol symbol) => InterruptContract(symbol) is not null;

    /// <summary>The symbol whose [InterruptContext] puts <paramref name="symbol"/> in interrupt context, or null.</summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public ISymbol? InterruptContract(ISymbol symbol)
    {
        for (ISymbol? s = symbol; s is not null and not INamespaceSymbol; s = s.ContainingSymbol)
        {
            if (HasAttribute(s, _interruptContext))
            {
                return s;
            }
        }

        if (symbol is not IMethodSymbol method)
        {
            return null;
        }

        for (IMethodSymbol? overridden = method.OverriddenMethod; overridden is not null; overridden = overridden.OverriddenMethod)
        {
            if (HasAttribute(overridden, _interruptContext) || HasAttribute(overridden.ContainingType, _interruptContext))
            {
                return overridden;
            }
        }

        foreach (IMethodSymbol explicitly in method.ExplicitInterfaceImplementations)
        {
            if (IsContract(explicitly))
            {
                return explicitly;
            }
        }

        if (method.ContainingType is { } type && method.DeclaredAccessibility == Accessibility.Public && !method.IsStatic)
        {
            foreach (INamedTypeSymbol contract in type.AllInterfaces)
            {
                bool wholeInterface = HasAttribute(contract, _interruptContext);
                foreach (ISymbol member in contract.GetMembers(method.Name))
                {
                    if (member is IMethodSymbol candidate && (wholeInterface || HasAttribute(candidate, _interruptContext))
                        && SymbolEqualityComparer.Default.Equals(type.FindImplementationForInterfaceMember(candidate), method))
                    {
                        return candidate;
                    }
                }
            }
        }

        return null;
    }

    /// <summary>Whether a method is an interrupt-context contract itself: it or its type (an interface, a delegate) carries the attribute.</summary>
    public bool IsContract(IMethodSymbol method) =>
        HasAttribute(method, _interruptContext) || HasAttribute(method.ContainingType, _interruptContext);

    /// <summary>Whether a delegate type carries [InterruptContext]: every lambda and method converted to it is in interrupt context.</summary>
    public bool IsInterruptDelegate(ITypeSymbol? type) =>
        type is INamedTypeSymbol { TypeKind: TypeKind.Delegate } && HasAttribute(type, _interruptContext);

    /// <summary>
    /// How messages name the interrupt-context code <paramref name="symbol"/>: its name, and the contract when it is
    /// in interrupt context through one (<c>Speaker.Render, which implements [InterruptContext] IAudioCallback.Render</c>).
    /// </summary>
    public string ContextName(ISymbol symbol)
    {
        ISymbol? contract = InterruptContract(symbol);
        return contract is IMethodSymbol method && !SymbolEqualityComparer.Default.Equals(contract, symbol)
            && !SymbolEqualityComparer.Default.Equals(contract.ContainingType, symbol)
            && !SymbolEqualityComparer.Default.Equals(method.ContainingType, symbol.ContainingType)
            ? $"{CallGraph.Name(symbol)}, which implements [InterruptContext] {CallGraph.Name(contract)}"
            : CallGraph.Name(symbol);
    }

    /// <summary>Whether <paramref name="operation"/> is a call of <c>InterruptContext.Enter()</c>, which opens a scope.</summary>
    public bool IsEnterScope(IOperation? operation) =>
        operation is IInvocationOperation { TargetMethod.Name: Contract.InterruptContextEnter } invocation
        && SymbolEqualityComparer.Default.Equals(invocation.TargetMethod.ContainingType, _interruptScopes);

    public bool IsVmalloc(IMethodSymbol method) =>
        SymbolEqualityComparer.Default.Equals(method.ContainingType, _kmem) && System.Array.IndexOf(Contract.VmallocMethods, method.Name) >= 0;

    public bool IsMaySleep(IMethodSymbol method) => _maySleep is not null && HasAttribute(method.OriginalDefinition, _maySleep);

    /// <summary>Whether the method (or the property it is an accessor of) is marked [Amortized]: calls into it are not followed.</summary>
    public bool IsAmortized(IMethodSymbol method) => _amortized is not null
        && (HasAttribute(method.OriginalDefinition, _amortized)
            || method.OriginalDefinition.AssociatedSymbol is IPropertySymbol property && HasAttribute(property, _amortized));

    /// <summary>A loop, not LINQ with a closure: the analyzers ask this of every call they see.</summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
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
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public bool IsKernelFlags(IArgumentOperation argument) =>
        _atomic != 0
        && SymbolEqualityComparer.Default.Equals(argument.Parameter?.Type, _gfpFlags)
        && argument.Value.ConstantValue is { HasValue: true, Value: { } value }
        && (Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) & _atomic) == 0;

    /// <summary>Whether the argument's expression names GfpFlags.Kernel itself.</summary>
    public bool NamesKernel(IArgumentOperation argument) =>
        argument.Value.DescendantsAndSelf().Any(o => o is IFieldReferenceOperation { Field.Name: Contract.KernelFlag } field
            && SymbolEqualityComparer.Default.Equals(field.Field.ContainingType, _gfpFlags));

    public bool IsUserListed(IMethodSymbol method) => _userListed.Count != 0
        && _userListed.Contains(BlockingApis.MetadataName(method.ContainingType.OriginalDefinition) + "." + method.Name);
}
