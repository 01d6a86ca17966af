// SLAB107: managed (GC) allocation in interrupt context. A frame loop's first worry is a GC pause: every object,
// array, box, closure, delegate and string the frame allocates brings the next collection closer. Reported where
// interrupt-context code allocates, and at each call of a method of this compilation that reaches an allocation,
// with the chain (the same call graph as the sleeping rules: CallGraph.cs).
//
// What counts: new of a class or delegate, arrays (params arrays included, not empty ones), boxing, lambdas that
// capture and delegates of instance methods, string concatenation and interpolation to string, LINQ, collection
// expressions that make an array or a collection (not a span, not an empty array), calls of async methods of this
// compilation (their state machine), and string-producing calls (ToString, string.Concat/Format/Join, …).
// What does not: allocations on a throw path, stackalloc, spans, static lambdas and non-capturing lambdas (the
// compiler caches them), delegates of static methods (cached since C# 11), interpolation into a handler.
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>Reports managed allocations in <c>[InterruptContext]</c> code (SLAB107, a warning by default).</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ManagedAllocationAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = [Descriptors.ManagedAllocationInInterrupt];

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        // Generated code is skipped block by block, as InterruptContextAnalyzer does (its comment says why).
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.Analyze | GeneratedCodeAnalysisFlags.ReportDiagnostics);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            var known = KnownSymbols.Create(start.Compilation, start.Options, start.CancellationToken);
            if (known is null)
            {
                return;
            }

            var graph = new CallGraph<Allocation>(known);
            bool cachesStaticMethodGroups = start.Compilation is CSharpCompilation { LanguageVersion: >= LanguageVersion.CSharp11 };
            start.RegisterOperationBlockStartAction(blockStart =>
            {
                if (blockStart.IsGeneratedCode)
                {
                    return;
                }

                CallGraph<Allocation>.Block block = graph.StartBlock(blockStart.OwningSymbol);
                blockStart.RegisterOperationAction(context =>
                    {
                        if (MayAllocate(context.Operation) || CallEdges.HasTargets(context.Operation))
                        {
                            graph.Analyze(context, block, operation => Find(operation, cachesStaticMethodGroups),
                                static (context, allocation, where) => context.ReportDiagnostic(Diagnostic.Create(Descriptors.ManagedAllocationInInterrupt,
                                    allocation.Location, allocation.Target, $"in '{where}'")));
                        }
                    },
                    OperationKind.Invocation, OperationKind.PropertyReference, OperationKind.ObjectCreation, OperationKind.ArrayCreation,
                    OperationKind.Binary, OperationKind.Unary, OperationKind.Conversion, OperationKind.CompoundAssignment,
                    OperationKind.Increment, OperationKind.Decrement, OperationKind.EventAssignment, OperationKind.Loop,
                    OperationKind.Using, OperationKind.UsingDeclaration, OperationKind.DelegateCreation,
                    OperationKind.InterpolatedString, OperationKind.CollectionExpression);
            });
            start.RegisterCompilationEndAction(end =>
            {
                // One warning per cause, at the allocation, with its first chain and how many interrupt-context calls
                // reach it: one growth site that 55 hot callers reach is one warning, suppressed (or fixed) in one place.
                foreach (var cause in graph.InterruptChains(end.CancellationToken).GroupBy(static c => c.Finding))
                {
                    string chain = cause.First().Chain;
                    int more = cause.Count() - 1;
                    end.ReportDiagnostic(Diagnostic.Create(Descriptors.ManagedAllocationInInterrupt, cause.Key.Location, cause.Key.Target,
                        "through " + chain + (more == 0 ? "" : $" (and {more} more interrupt-context call{(more == 1 ? "" : "s")})")));
                }
            });
        });
    }

    /// <summary>
    /// One managed allocation: what allocates (a description, and the type to write after it, formatted only when a
    /// message needs it: most allocations are in code no interrupt context reaches), and where.
    /// </summary>
    private sealed class Allocation(string what, ITypeSymbol? type, Location location) : IChainEnd
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
    private static bool MayAllocate(IOperation operation) => operation switch
    {
        IObjectCreationOperation or IArrayCreationOperation or IDelegateCreationOperation or IInterpolatedStringOperation
            or ICollectionExpressionOperation => true,
        IBinaryOperation binary => binary.Type?.SpecialType == SpecialType.System_String,
        IConversionOperation conversion => conversion.Operand.Type is { IsValueType: true } && conversion.Type is { IsReferenceType: true },
        _ => false,
    };

    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    private static Allocation? Find(IOperation operation, bool cachesStaticMethodGroups)
    {
        (string? what, ITypeSymbol? type) = operation switch
        {
            IObjectCreationOperation { Type: { IsReferenceType: true } created } => ("new ", created),
            IArrayCreationOperation array when !IsEmpty(array) => array.IsImplicit ? ("a params array", null) : ("new ", array.Type),
            IConversionOperation conversion when IsBoxing(conversion) => ("boxing ", conversion.Operand.Type),
            IDelegateCreationOperation creation when Allocates(creation, cachesStaticMethodGroups) => creation.Target is IAnonymousFunctionOperation
                ? ("a capturing lambda (closure and delegate)", null) : ("a delegate of an instance method", null),
            IBinaryOperation { OperatorKind: BinaryOperatorKind.Add, Type.SpecialType: SpecialType.System_String, ConstantValue.HasValue: false } binary
                when binary.Parent is not IBinaryOperation { Type.SpecialType: SpecialType.System_String } => ("string concatenation", null),
            IInterpolatedStringOperation { Type.SpecialType: SpecialType.System_String, ConstantValue.HasValue: false } interpolation
                when interpolation.Parent is not IInterpolatedStringHandlerCreationOperation => ("string interpolation", null),
            ICollectionExpressionOperation collection when Allocates(collection) => ("a collection expression of ", collection.Type),
            IInvocationOperation invocation => (Allocates(invocation), null),
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
            if (node is IThrowOperation)
            {
                return true;
            }
        }

        return false;
    }
}
