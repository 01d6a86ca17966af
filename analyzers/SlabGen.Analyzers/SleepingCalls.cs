// What may sleep in one operation, for SLAB101-105 (InterruptContextAnalyzer.cs): Vmalloc, GfpFlags that may sleep,
// [MaySleep] methods, calls the blocking table knows (BlockingApis.cs) or the project lists, and lock. A direct finding
// is reported where it is when the code is in interrupt context, and is its method's first finding for the chains.
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>Finds what may sleep in an operation.</summary>
internal sealed class SleepingCalls(KnownSymbols known)
{
    /// <summary>
    /// One thing that may sleep: the rule that reports it directly, the member's name, what a chain ends in, where,
    /// and a detail for the message (how the flags may sleep, why a call blocks). The interrupt-context code's name
    /// is added when it is reported.
    /// </summary>
    internal sealed record Finding(DiagnosticDescriptor Rule, string Name, string Target, Location Location, string Detail = "") : IChainEnd
    {
        public Diagnostic ToDiagnostic(string context) => Diagnostic.Create(Rule, Location, Rule.Id switch
        {
            RuleIdentifiers.KernelFlagsInInterrupt => [Name, Detail, context],
            RuleIdentifiers.BlockingCallInInterrupt => [Name, context, Detail],
            _ => new object[] { Name, context },
        });
    }

    /// <summary>What in this operation may sleep, or null.</summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public Finding? Find(IOperation operation)
    {
        switch (operation.Kind) // not a type switch: CallEdges.HasTargets says why
        {
            case OperationKind.Invocation:
                var invocation = (IInvocationOperation)operation;
                return FindInCall(invocation.TargetMethod, invocation.Arguments, invocation.Syntax, invocation.Instance?.Type);
            case OperationKind.Lock:
                return Blocking("lock", operation.Syntax.GetLocation(), " (lock waits for the holder)");
            case OperationKind.PropertyReference:
                IPropertySymbol property = ((IPropertyReferenceOperation)operation).Property;
                return BlockingApis.IsBlocking(property) ? Blocking(CallGraph.Name(property), operation.Syntax.GetLocation(), "") : FindInTargets(operation);
            case OperationKind.ObjectCreation when ((IObjectCreationOperation)operation) is { Constructor: { } constructor } creation:
                return FindInCall(constructor, creation.Arguments, creation.Syntax, null);
            default:
                return FindInTargets(operation);
        }
    }

    /// <summary>A blocking or [MaySleep] target of the other call edges (accessors, operators, foreach, using).</summary>
    private Finding? FindInTargets(IOperation operation)
    {
        foreach ((IMethodSymbol target, SyntaxNode at) in CallEdges.Targets(operation))
        {
            if (FindInCall(target, [], at, null) is { } finding)
            {
                return finding;
            }
        }

        return null;
    }

    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    private Finding? FindInCall(IMethodSymbol method, ImmutableArray<IArgumentOperation> arguments, SyntaxNode at, ITypeSymbol? receiver)
    {
        IMethodSymbol target = method.ReducedFrom ?? method;
        if (known.IsVmalloc(target))
        {
            string name = CallGraph.Name(target);
            return new Finding(Descriptors.VmallocInInterrupt, name, name, at.GetLocation());
        }

        foreach (IArgumentOperation argument in arguments)
        {
            if (known.IsKernelFlags(argument))
            {
                bool implicitDefault = argument.ArgumentKind == ArgumentKind.DefaultValue;
                string how = implicitDefault ? "GfpFlags.Kernel (the default)"
                    : known.NamesKernel(argument) ? "GfpFlags.Kernel"
                    : $"{argument.Value.Syntax} (without GfpFlags.Atomic, that is GfpFlags.Kernel)";
                string name = CallGraph.Name(target);
                return new Finding(Descriptors.KernelFlagsInInterrupt, name, name + " with GfpFlags.Kernel",
                    (implicitDefault ? at : argument.Syntax).GetLocation(), how);
            }
        }

        if (known.IsMaySleep(target))
        {
            string name = CallGraph.Name(target);
            return new Finding(Descriptors.MaySleepCallInInterrupt, name, name, at.GetLocation());
        }

        if (BlockingApis.IsBlocking(target, receiver))
        {
            return Blocking(CallGraph.Name(target), at.GetLocation(), Why(target, arguments));
        }

        return known.IsUserListed(target)
            ? Blocking(CallGraph.Name(target), at.GetLocation(), $" (listed in {InterruptContextAnalyzer.MaySleepMethodsKey})")
            : null;
    }

    /// <summary>What SLAB105's message adds to a table entry, when the table knows more than "it blocks".</summary>
    private static string Why(IMethodSymbol target, ImmutableArray<IArgumentOperation> arguments) =>
        BlockingApis.IsNativeAllocation(target) ? BlockingApis.NativeAllocationReason
        : target.ContainingType is { Name: "SpinWait" } ? (target.Name == "SpinOnce" && arguments.Length == 1
            && arguments[0].Value.ConstantValue is { HasValue: true, Value: -1 } ? BlockingApis.SpinWithoutSleepReason : BlockingApis.SpinReason)
        : "";

    private static Finding Blocking(string name, Location location, string why) =>
        new(Descriptors.BlockingCallInInterrupt, name, name, location, why);
}
