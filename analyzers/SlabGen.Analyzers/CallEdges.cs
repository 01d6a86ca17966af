// The methods an operation calls, for every kind of call C# has, and the calls the compiler removes. The
// interrupt-context analysis (InterruptContextAnalyzer.cs) follows these edges; what is not here it cannot see.
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

internal static class CallEdges
{
    // The hot tests switch on IOperation.Kind, one interface call, rather than on the operation's type: each type test
    // is a cast helper's walk of the class's interfaces, several per operation in a command-line build's every operation.

    /// <summary>Whether <paramref name="operation"/> calls anything at all: a cheap test before <see cref="Targets"/>.</summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public static bool HasTargets(IOperation operation) => operation.Kind switch
    {
        OperationKind.Invocation or OperationKind.PropertyReference or OperationKind.EventAssignment or OperationKind.Using
            or OperationKind.UsingDeclaration => true,
        OperationKind.ObjectCreation => ((IObjectCreationOperation)operation).Constructor is not null,
        OperationKind.Loop => ((ILoopOperation)operation).LoopKind == LoopKind.ForEach,
        _ => OperatorMethod(operation) is not null,
    };

    /// <summary>The user-defined operator or conversion an operator, assignment, ++/-- or conversion calls, or null.</summary>
    private static IMethodSymbol? OperatorMethod(IOperation operation) => operation.Kind switch
    {
        OperationKind.Binary => ((IBinaryOperation)operation).OperatorMethod,
        OperationKind.Unary => ((IUnaryOperation)operation).OperatorMethod,
        OperationKind.CompoundAssignment => ((ICompoundAssignmentOperation)operation).OperatorMethod,
        OperationKind.Increment or OperationKind.Decrement => ((IIncrementOrDecrementOperation)operation).OperatorMethod,
        OperationKind.Conversion => ((IConversionOperation)operation).OperatorMethod,
        _ => null,
    };

    /// <summary>The methods <paramref name="operation"/> calls, with where (a node: a location is made only for what is kept); empty for operations that call nothing.</summary>
    public static IEnumerable<(IMethodSymbol Method, SyntaxNode At)> Targets(IOperation operation)
    {
        SyntaxNode at = operation.Syntax;
        switch (operation)
        {
            case IInvocationOperation invocation:
                yield return (Devirtualize(invocation), at);
                break;
            case IObjectCreationOperation { Constructor: { } constructor }:
                yield return (constructor, at);
                break;
            case IPropertyReferenceOperation property:
                foreach (IMethodSymbol accessor in Accessors(property))
                {
                    yield return (accessor, at);
                }

                break;
            case IBinaryOperation or IUnaryOperation or ICompoundAssignmentOperation or IIncrementOrDecrementOperation or IConversionOperation:
                if (OperatorMethod(operation) is { } userDefined)
                {
                    yield return (userDefined, at);
                }

                break;
            case IEventAssignmentOperation { EventReference: IEventReferenceOperation reference } assignment:
                if ((assignment.Adds ? reference.Event.AddMethod : reference.Event.RemoveMethod) is { } handler)
                {
                    yield return (handler, at);
                }

                break;
            case IForEachLoopOperation { Collection: { } collection } loop when loop.Syntax is CommonForEachStatementSyntax statement:
                foreach (IMethodSymbol method in ForEachMethods(collection))
                {
                    yield return (method, statement.Expression);
                }

                break;
            case IUsingOperation { Resources: { } resources }:
                foreach (IMethodSymbol dispose in Disposes(resources))
                {
                    yield return (dispose, at);
                }

                break;
            case IUsingDeclarationOperation { DeclarationGroup: { } group }:
                foreach (IMethodSymbol dispose in Disposes(group))
                {
                    yield return (dispose, at);
                }

                break;
        }
    }

    /// <summary>
    /// The method a call runs when the receiver's type is known: a virtual, abstract or interface method called on a
    /// sealed type, a struct, or a just-created object goes to that type's implementation; anything else is the
    /// method named at the call site.
    /// </summary>
    public static IMethodSymbol Devirtualize(IInvocationOperation invocation)
    {
        IMethodSymbol target = invocation.TargetMethod;
        return IsDispatched(target) && ConcreteType(invocation.Instance) is { } receiver
            ? Implementation(receiver, target) ?? target
            : target;
    }

    /// <summary>
    /// The method that runs for <paramref name="target"/> (an interface member, static abstract ones included, or a
    /// virtual method) on an object whose exact type is <paramref name="receiver"/>; null when the type has none.
    /// </summary>
    public static IMethodSymbol? Implementation(ITypeSymbol receiver, IMethodSymbol target)
    {
        if (target.ContainingType.TypeKind == TypeKind.Interface)
        {
            return receiver.FindImplementationForInterfaceMember(target) as IMethodSymbol;
        }

        for (ITypeSymbol? type = receiver; type is not null; type = type.BaseType)
        {
            foreach (ISymbol member in type.GetMembers(target.Name))
            {
                if (member is IMethodSymbol method && Overrides(method, target))
                {
                    return method;
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The type parameter a call dispatches on (<c>pool.Rent()</c> where <c>pool</c> is a <c>TPool</c>, or
    /// <c>TPool.Create()</c> for a static abstract member): the call's target is known only once the type argument is.
    /// </summary>
    public static ITypeParameterSymbol? ConstrainedParameter(IInvocationOperation invocation)
    {
        IMethodSymbol target = invocation.TargetMethod;
        if (!IsDispatched(target) && !(target.IsStatic && (target.IsAbstract || target.IsVirtual)))
        {
            return null;
        }

        IOperation? receiver = invocation.Instance;
        while (receiver is IConversionOperation { OperatorMethod: null } conversion)
        {
            receiver = conversion.Operand;
        }

        return receiver?.Type as ITypeParameterSymbol ?? (receiver is null ? invocation.ConstrainedToType as ITypeParameterSymbol : null);
    }

    /// <summary>Whether the method that runs is chosen at run time: virtual, abstract, an override, or an interface member.</summary>
    public static bool IsDispatched(IMethodSymbol method) =>
        method.IsVirtual || method.IsAbstract || method.IsOverride || (method.ContainingType.TypeKind == TypeKind.Interface && !method.IsStatic);

    /// <summary>Whether the receiver's type is the object's exact type: a sealed type, a struct, or an object created right there.</summary>
    public static ITypeSymbol? ConcreteType(IOperation? receiver)
    {
        while (receiver is IConversionOperation { OperatorMethod: null } conversion)
        {
            receiver = conversion.Operand; // a cast or an implicit conversion does not change the object's type
        }

        return receiver switch
        {
            IObjectCreationOperation { Type: { } created } => created,
            { Type: { IsSealed: true } or { IsValueType: true } } => receiver.Type,
            _ => null,
        };
    }

    private static bool Overrides(IMethodSymbol method, IMethodSymbol target)
    {
        for (IMethodSymbol? m = method; m is not null; m = m.OverriddenMethod)
        {
            if (SymbolEqualityComparer.Default.Equals(m.OriginalDefinition, target.OriginalDefinition))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether calls of <paramref name="method"/> may be removed: it is [Conditional] or a bodiless partial method (a cheap scan; IsOmitted decides).</summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public static bool MayBeOmitted(IMethodSymbol method)
    {
        method = method.ReducedFrom ?? method;
        if (method.IsPartialDefinition && method.PartialImplementationPart is null)
        {
            return true;
        }

        foreach (AttributeData attribute in method.GetAttributes())
        {
            if (attribute.AttributeClass?.Name == "ConditionalAttribute")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Whether the compiler removes this call: a call of a [Conditional] method none of whose symbols the call's file
    /// defines, or of a partial method without a body. Its arguments are not evaluated either, so the call graph
    /// skips everything inside it (CallGraph.Where).
    /// </summary>
    public static bool IsOmitted(IInvocationOperation invocation)
    {
        IMethodSymbol method = invocation.TargetMethod.ReducedFrom ?? invocation.TargetMethod;
        if (method.IsPartialDefinition && method.PartialImplementationPart is null)
        {
            return true;
        }

        List<string>? symbols = null;
        foreach (AttributeData attribute in method.GetAttributes())
        {
            if (attribute.AttributeClass is { Name: "ConditionalAttribute", ContainingNamespace: { Name: "Diagnostics", ContainingNamespace: { Name: "System", ContainingNamespace.IsGlobalNamespace: true } } }
                && attribute.ConstructorArguments.Length == 1 && attribute.ConstructorArguments[0].Value is string symbol)
            {
                (symbols ??= []).Add(symbol);
            }
        }

        return symbols is not null && !symbols.Any(symbol => IsDefined(invocation.Syntax, symbol));
    }

    /// <summary>
    /// Whether <paramref name="symbol"/> is defined in <paramref name="node"/>'s file: by the build, or by the file's
    /// #define and #undef lines. The language allows those only before the file's first token (CS1032), so they are all
    /// in that token's leading trivia, ahead of any call: reading that trivia is the whole search, not a walk of the file.
    /// </summary>
    private static bool IsDefined(SyntaxNode node, string symbol)
    {
        bool defined = node.SyntaxTree.Options is CSharpParseOptions options && options.PreprocessorSymbolNames.Contains(symbol);
        SyntaxNode root = node.SyntaxTree.GetRoot();
        if (!root.ContainsDirectives)
        {
            return defined;
        }

        foreach (SyntaxTrivia trivia in root.GetFirstToken(includeZeroWidth: true).LeadingTrivia)
        {
            switch (trivia.GetStructure())
            {
                case DefineDirectiveTriviaSyntax { IsActive: true } define when define.Name.ValueText == symbol:
                    defined = true;
                    break;
                case UndefDirectiveTriviaSyntax { IsActive: true } undef when undef.Name.ValueText == symbol:
                    defined = false;
                    break;
            }
        }

        return defined;
    }

    /// <summary>
    /// What a foreach over <paramref name="collection"/> calls, found as the compiler's pattern finds it (public
    /// GetEnumerator, then MoveNext, Current and Dispose on what it returns), from symbols alone: asking the semantic
    /// model for the statement's info would bind it again, at every loop.
    /// </summary>
    private static IEnumerable<IMethodSymbol> ForEachMethods(IOperation collection)
    {
        ITypeSymbol? type = (collection is IConversionOperation { IsImplicit: true } conversion ? conversion.Operand : collection).Type;
        if (type is null || Parameterless(type, "GetEnumerator") is not { } getEnumerator)
        {
            yield break;
        }

        yield return getEnumerator;
        ITypeSymbol enumerator = getEnumerator.ReturnType;
        if (Parameterless(enumerator, "MoveNext") is { } moveNext)
        {
            yield return moveNext;
        }

        if (enumerator.GetMembers("Current").OfType<IPropertySymbol>().FirstOrDefault()?.GetMethod is { } current)
        {
            yield return current;
        }

        if (Parameterless(enumerator, "Dispose") is { } dispose)
        {
            yield return dispose;
        }
    }

    private static IMethodSymbol? Parameterless(ITypeSymbol type, string name)
    {
        foreach (ISymbol member in type.GetMembers(name))
        {
            if (member is IMethodSymbol { Parameters.Length: 0, IsStatic: false } method)
            {
                return method;
            }
        }

        return null;
    }

    /// <summary>The getter, the setter, or both (compound assignment, ++ and --) that a property or indexer reference calls.</summary>
    private static IEnumerable<IMethodSymbol> Accessors(IPropertyReferenceOperation property)
    {
        IOperation? parent = property.Parent;
        bool isTarget = parent is IAssignmentOperation assignment && assignment.Target == property
            || parent is IIncrementOrDecrementOperation;
        bool reads = !isTarget || parent is ICompoundAssignmentOperation or ICoalesceAssignmentOperation or IIncrementOrDecrementOperation;
        if (reads && property.Property.GetMethod is { } getter)
        {
            yield return getter;
        }

        if (isTarget && property.Property.SetMethod is { } setter)
        {
            yield return setter;
        }
    }

    /// <summary>The Dispose methods a using statement or declaration calls on its resources' types.</summary>
    private static IEnumerable<IMethodSymbol> Disposes(IOperation resources)
    {
        IEnumerable<ITypeSymbol?> types = resources switch
        {
            IVariableDeclarationGroupOperation group => group.Declarations.SelectMany(static d => d.Declarators).Select(static d => (ITypeSymbol?)d.Symbol.Type),
            _ => [resources.Type],
        };
        foreach (ITypeSymbol? type in types)
        {
            if (type?.GetMembers("Dispose").OfType<IMethodSymbol>().FirstOrDefault(static m => m.Parameters.Length == 0 && !m.IsStatic) is { } dispose)
            {
                yield return dispose;
            }
        }
    }
}
