// What allocates on the managed heap in one operation, for SLAB107 (InterruptContextAnalyzer.cs): managed (GC)
// allocation in interrupt context. A frame loop's first worry is a GC pause: every object,
// array, box, closure, delegate and string the frame allocates brings the next collection closer. Reported where
// interrupt-context code allocates, and at each call of a method of this compilation that reaches an allocation,
// with the chain (the call graph the sleeping rules use too: CallGraph.cs).
//
// What counts: new of a class or delegate, arrays (params arrays included, not empty ones), boxing, lambdas that
// capture and delegates of instance methods, string concatenation and interpolation to string, LINQ, collection
// expressions that make an array or a collection (not a span, not an empty array), calls of async methods of this
// compilation (their state machine), and string-producing calls (ToString, string.Concat/Format/Join, …).
// What does not: allocations on a throw path, stackalloc, spans, static lambdas and non-capturing lambdas (the
// compiler caches them), delegates of static methods (cached since C# 11), interpolation into a handler.
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>Finds managed allocations in an operation.</summary>
internal static class ManagedAllocations
{
    /// <summary>
    /// One managed allocation: what allocates (a description, and the type to write after it, formatted only when a
    /// message needs it: most allocations are in code no interrupt context reaches), and where.
    /// </summary>
    internal sealed class Allocation(string what, ITypeSymbol? type, Location location) : IChainEnd
    {
        public string Target => type is null ? what : what + type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat);

        public Location Location { get; } = location;
    }

    /// <summary>String methods that return a new string.</summary>
    private static readonly HashSet<string> StringMakers = new(System.StringComparer.Ordinal)
    {
        "Concat", "Format", "Join", "Substring", "Replace", "ToUpper", "ToLower", "ToUpperInvariant", "ToLowerInvariant",
        "Trim", "TrimStart", "TrimEnd", "PadLeft", "PadRight", "Insert", "Remove", "Split",
    };

    /// <summary>A cheap test before <see cref="Find"/>: the operation kinds that can allocate by themselves.</summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public static bool MayAllocate(IOperation operation) => operation.Kind switch // not a type switch: CallEdges.HasTargets says why
    {
        OperationKind.ObjectCreation or OperationKind.ArrayCreation or OperationKind.DelegateCreation or OperationKind.InterpolatedString
            or OperationKind.CollectionExpression => true,
        OperationKind.Binary => operation.Type?.SpecialType == SpecialType.System_String,
        OperationKind.Conversion => ((IConversionOperation)operation).Operand.Type is { IsValueType: true } && operation.Type is { IsReferenceType: true },
        _ => false,
    };

    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public static Allocation? Find(IOperation operation, bool cachesStaticMethodGroups)
    {
        (string? what, ITypeSymbol? type) = operation.Kind switch // not a type switch: CallEdges.HasTargets says why
        {
            OperationKind.Invocation => (Allocates((IInvocationOperation)operation), null),
            OperationKind.ObjectCreation when operation.Type is { IsReferenceType: true } created => ("new ", created),
            OperationKind.ArrayCreation when (IArrayCreationOperation)operation is var array && !IsEmpty(array) =>
                array.IsImplicit ? ("a params array", null) : ("new ", array.Type),
            OperationKind.Conversion when (IConversionOperation)operation is var conversion && IsBoxing(conversion) => ("boxing ", conversion.Operand.Type),
            OperationKind.DelegateCreation when (IDelegateCreationOperation)operation is var creation && Allocates(creation, cachesStaticMethodGroups) =>
                creation.Target is IAnonymousFunctionOperation ? ("a capturing lambda (closure and delegate)", null) : ("a delegate of an instance method", null),
            OperationKind.Binary when operation is IBinaryOperation { OperatorKind: BinaryOperatorKind.Add, Type.SpecialType: SpecialType.System_String, ConstantValue.HasValue: false }
                && operation.Parent is not IBinaryOperation { Type.SpecialType: SpecialType.System_String } => ("string concatenation", null),
            OperationKind.InterpolatedString when operation is { Type.SpecialType: SpecialType.System_String, ConstantValue.HasValue: false }
                && operation.Parent is not IInterpolatedStringHandlerCreationOperation => ("string interpolation", null),
            OperationKind.CollectionExpression when Allocates((ICollectionExpressionOperation)operation) => ("a collection expression of ", operation.Type),
            _ => ((string?)null, (ITypeSymbol?)null),
        };
        return what is null || OnThrowPath(operation) ? null : new Allocation(what, type, operation.Syntax.GetLocation());
    }

    private static bool IsEmpty(IArrayCreationOperation array) =>
        array.DimensionSizes.Length == 1 && array.DimensionSizes[0].ConstantValue is { HasValue: true, Value: 0 };

    private static bool IsBoxing(IConversionOperation conversion) =>
        conversion.Operand.Type is { IsValueType: true } from && from.TypeKind != TypeKind.TypeParameter
        && conversion.Type is { IsReferenceType: true } && !conversion.Operand.ConstantValue.HasValue
        && conversion.OperatorMethod is null
        && conversion.Parent is not IBinaryOperation { Type.SpecialType: SpecialType.System_String }; // "a" + 1 calls ToString, reported as the concatenation

    private static bool Allocates(IDelegateCreationOperation creation, bool cachesStaticMethodGroups) => creation.Target switch
    {
        IAnonymousFunctionOperation lambda => !lambda.Symbol.IsStatic && Captures(lambda),
        IMethodReferenceOperation reference => !(reference.Method.IsStatic && cachesStaticMethodGroups),
        _ => false,
    };

    /// <summary>
    /// Whether a lambda uses anything of the code around it (a local or parameter declared outside it, or this):
    /// then it is a closure. One pass over its operations; no data-flow analysis.
    /// </summary>
    private static bool Captures(IAnonymousFunctionOperation lambda)
    {
        Microsoft.CodeAnalysis.Text.TextSpan inside = lambda.Syntax.Span;
        bool Outside(ISymbol symbol) => !symbol.DeclaringSyntaxReferences.Any(r => inside.Contains(r.Span));
        foreach (IOperation operation in lambda.Body.Descendants())
        {
            switch (operation)
            {
                case IInstanceReferenceOperation { ReferenceKind: InstanceReferenceKind.ContainingTypeInstance }:
                    return true;
                case ILocalReferenceOperation local when Outside(local.Local):
                    return true;
                case IParameterReferenceOperation parameter when Outside(parameter.Parameter):
                    return true;
            }
        }

        return false;
    }

    private static bool Allocates(ICollectionExpressionOperation collection)
    {
        ITypeSymbol? type = collection.Type;
        if (type is null || type.IsRefLikeType)
        {
            return false; // Span<T>, ReadOnlySpan<T>: stack or inline storage
        }

        return !(collection.Elements.IsEmpty && type is IArrayTypeSymbol or INamedTypeSymbol { TypeKind: TypeKind.Interface });
    }

    private static string? Allocates(IInvocationOperation invocation)
    {
        IMethodSymbol method = invocation.TargetMethod.ReducedFrom ?? invocation.TargetMethod;
        INamedTypeSymbol type = method.ContainingType;
        if (type.Name == "Enumerable" && type.ContainingNamespace is { Name: "Linq", ContainingNamespace.Name: "System" })
        {
            return $"LINQ '{method.Name}'";
        }

        if (method.Name == "ToString" && method.Parameters.IsEmpty && !method.IsStatic)
        {
            return "ToString()";
        }

        if (type.SpecialType == SpecialType.System_String && StringMakers.Contains(method.Name))
        {
            return "string." + method.Name;
        }

        return method.IsAsync && CallGraph.SourceMethod(method) is not null ? $"the async state machine of '{CallGraph.Name(method)}'" : null;
    }

    /// <summary>Whether the operation only runs while throwing: a throw statement or expression around it.</summary>
    private static bool OnThrowPath(IOperation operation)
    {
        for (IOperation? node = operation; node is not null; node = node.Parent)
        {
            if (node.Kind == OperationKind.Throw)
            {
                return true;
            }
        }

        return false;
    }
}
