// The call graph of one compilation as the interrupt-context rules see it: for every method body its first
// direct finding and the source methods it calls (CallEdges.cs), and the calls made in interrupt context. At
// the end of the compilation one breadth-first pass from the methods with a finding, over the reversed call
// graph, gives every method that reaches one the next step of its shortest chain: linear in the graph,
// cycle-safe, and the same whatever order the methods were declared or analysed in. The sleeping rules
// (InterruptContextAnalyzer) and the managed-allocation rule (ManagedAllocationAnalyzer) each keep one.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>What ends a chain: the thing found, for messages, and where.</summary>
internal interface IChainEnd
{
    string Target { get; }

    Location Location { get; }
}

internal sealed class CallGraph<TFinding>(KnownSymbols known)
    where TFinding : class, IChainEnd
{
    /// <summary>Made once: a method group passed to GetOrAdd would be a new delegate per operation.</summary>
    private readonly Func<ISymbol, bool> _isInterruptContext = known.IsInterruptContext;

    private readonly ConcurrentDictionary<IMethodSymbol, Summary> _summaries = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentBag<(IMethodSymbol Caller, IMethodSymbol Callee, Location Location)> _interruptCalls = [];
    private readonly ConcurrentDictionary<ISymbol, bool> _interrupt = new(SymbolEqualityComparer.Default);

    /// <summary>
    /// One walk up from the operation: the method or local function whose body holds it, whether a lambda lies
    /// between, whether it is to be skipped (inside a call the compiler removes, CallEdges.IsOmitted, or in an
    /// attribute's arguments, evaluated when the attribute is read), and the [InterruptContext] delegate type of
    /// the innermost lambda around it, if that lambda is converted to one.
    /// </summary>
    private (IMethodSymbol? Owner, bool InsideLambda, bool Skipped, ITypeSymbol? DelegateContract) Where(IOperation operation, ISymbol containing)
    {
        bool insideLambda = false;
        IMethodSymbol? local = null;
        ITypeSymbol? contract = null;
        for (IOperation? node = operation; node is not null; node = node.Parent)
        {
            switch (node)
            {
                case IInvocationOperation invocation when CallEdges.MayBeOmitted(invocation.TargetMethod) && CallEdges.IsOmitted(invocation):
                    return (null, false, true, null);
                case IAttributeOperation:
                    return (null, false, true, null);
                case IAnonymousFunctionOperation when node != operation && local is null:
                    if (!insideLambda && node.Parent is IDelegateCreationOperation { Type: var type } && known.IsInterruptDelegate(type))
                    {
                        contract = type;
                    }

                    insideLambda = true;
                    break;
                case ILocalFunctionOperation function when node != operation && local is null:
                    local = function.Symbol;
                    break;
            }
        }

        return (local ?? containing as IMethodSymbol, insideLambda, false, contract);
    }

    /// <summary>
    /// Records one operation: a finding (reported at once through <paramref name="report"/>, with how to name the
    /// code, when the code is in interrupt context, and kept as its method's first finding), or else the calls it
    /// makes. Code is in interrupt context when its member is (KnownSymbols.IsInterruptContext: attributes and
    /// contracts), or when it is inside a lambda converted to an [InterruptContext] delegate type.
    /// </summary>
    public void Analyze(OperationAnalysisContext context, Block block, Func<IOperation, TFinding?> find,
        Action<OperationAnalysisContext, TFinding, string> report)
    {
        IOperation operation = context.Operation;
        (IMethodSymbol? owner, bool insideLambda, bool skipped, ITypeSymbol? delegateContract) = Where(operation, block.Owner);
        if (owner is null || skipped)
        {
            return;
        }

        bool interrupt = delegateContract is not null || block.Interrupt;
        if (find(operation) is { } finding)
        {
            if (interrupt)
            {
                report(context, finding, Label(block, delegateContract));
            }

            if (!insideLambda)
            {
                Summary summary = SummaryOf(owner, block);
                lock (summary)
                {
                    if (summary.FirstFinding is null || CallGraph.LocationOrder.Instance.Compare(finding.Location, summary.FirstFinding.Location) < 0)
                    {
                        summary.FirstFinding = finding;
                    }
                }
            }

            return;
        }

        foreach ((IMethodSymbol target, SyntaxNode at) in CallEdges.Targets(operation))
        {
            if (CallGraph.SourceMethod(target) is not { } callee || _interrupt.GetOrAdd(callee, _isInterruptContext) || known.IsAmortized(callee))
            {
                continue; // interrupt-context callees are checked on their own; [Amortized] ones are not followed
            }

            Location location = at.GetLocation();
            if (interrupt && callee.MethodKind != MethodKind.LocalFunction)
            {
                _interruptCalls.Add((owner, callee, location));
            }

            if (!insideLambda)
            {
                Summary summary = SummaryOf(owner, block);
                lock (summary)
                {
                    summary.Calls.Add((callee, location));
                }
            }
        }
    }

    /// <summary>How messages name the interrupt-context code the operation is in, or null when it is not in interrupt context.</summary>
    public string? InterruptLabel(OperationAnalysisContext context, Block block)
    {
        (IMethodSymbol? owner, _, bool skipped, ITypeSymbol? delegateContract) = Where(context.Operation, block.Owner);
        if (owner is null || skipped)
        {
            return null;
        }

        return delegateContract is not null || block.Interrupt ? Label(block, delegateContract) : null;
    }

    /// <summary>How messages name interrupt-context code: a lambda for a contract delegate type, else the member (and its contract).</summary>
    private string Label(Block block, ITypeSymbol? delegateContract) => delegateContract is not null
        ? $"a lambda in {CallGraph.Name(block.Owner)} for [InterruptContext] {delegateContract.Name}"
        : known.ContextName(block.Owner);

    /// <summary>
    /// What the operations of one body (a method, an accessor, a constructor, a lambda's containing member) share,
    /// looked up once per body rather than once per operation: the member, whether it is in interrupt context, and
    /// its summary once one is needed.
    /// </summary>
    public Block StartBlock(ISymbol owner) => new(owner, _interrupt.GetOrAdd(owner, _isInterruptContext));

    /// <summary>The summary of <paramref name="owner"/>: the block's own (kept on it), or a local function's.</summary>
    private Summary SummaryOf(IMethodSymbol owner, Block block)
    {
        if (ReferenceEquals(owner, block.Owner))
        {
            return block.Summary ??= _summaries.GetOrAdd(owner, static _ => new Summary());
        }

        return _summaries.GetOrAdd(owner, static _ => new Summary());
    }

    /// <summary>See <see cref="StartBlock"/>.</summary>
    public sealed class Block(ISymbol owner, bool interrupt)
    {
        public ISymbol Owner { get; } = owner;

        public bool Interrupt { get; } = interrupt;

        /// <summary>The owner's summary; a benign race may look it up twice (GetOrAdd gives both the same one).</summary>
        internal Summary? Summary;
    }

    /// <summary>Every interrupt-context call of a method that reaches a finding, with the chain written out.</summary>
    public IEnumerable<(IMethodSymbol Callee, Location Location, string Chain)> InterruptChains(CancellationToken cancellationToken)
    {
        if (_interruptCalls.IsEmpty)
        {
            yield break;
        }

        Dictionary<IMethodSymbol, IMethodSymbol?> next = NextSteps(cancellationToken);
        foreach ((IMethodSymbol caller, IMethodSymbol callee, Location location) in _interruptCalls.OrderBy(static c => c.Location, CallGraph.LocationOrder.Instance))
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (!next.ContainsKey(callee))
            {
                continue;
            }

            var steps = new List<IMethodSymbol> { caller };
            for (IMethodSymbol? step = callee; step is not null; step = next[step])
            {
                steps.Add(step);
            }

            TFinding finding = _summaries[steps[steps.Count - 1]].FirstFinding!;
            yield return (callee, location, string.Join(" → ", CallGraph.ChainNames(steps).Concat([finding.Target])));
        }
    }

    /// <summary>
    /// For every method that reaches a finding, the callee that starts its shortest chain there (null for a method
    /// with a finding of its own), methods and edges visited in source order.
    /// </summary>
    private Dictionary<IMethodSymbol, IMethodSymbol?> NextSteps(CancellationToken cancellationToken)
    {
        var callers = new Dictionary<IMethodSymbol, List<(IMethodSymbol Caller, Location Location)>>(SymbolEqualityComparer.Default);
        foreach (KeyValuePair<IMethodSymbol, Summary> entry in _summaries)
        {
            foreach ((IMethodSymbol callee, Location location) in entry.Value.Calls)
            {
                if (!callers.TryGetValue(callee, out List<(IMethodSymbol, Location)>? list))
                {
                    callers[callee] = list = [];
                }

                list.Add((entry.Key, location));
            }
        }

        var next = new Dictionary<IMethodSymbol, IMethodSymbol?>(SymbolEqualityComparer.Default);
        var queue = new Queue<IMethodSymbol>();
        foreach (KeyValuePair<IMethodSymbol, Summary> entry in _summaries
            .Where(static e => e.Value.FirstFinding is not null)
            .OrderBy(static e => e.Value.FirstFinding!.Location, CallGraph.LocationOrder.Instance))
        {
            next[entry.Key] = null;
            queue.Enqueue(entry.Key);
        }

        while (queue.Count != 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IMethodSymbol method = queue.Dequeue();
            if (!callers.TryGetValue(method, out List<(IMethodSymbol Caller, Location Location)>? list))
            {
                continue;
            }

            foreach ((IMethodSymbol caller, _) in list.OrderBy(static c => c.Location, CallGraph.LocationOrder.Instance))
            {
                if (!next.ContainsKey(caller))
                {
                    next[caller] = method;
                    queue.Enqueue(caller);
                }
            }
        }

        return next;
    }

    /// <summary>What a method body does: its first direct finding and the source methods it calls.</summary>
    internal sealed class Summary
    {
        public TFinding? FirstFinding;
        public readonly List<(IMethodSymbol Callee, Location Location)> Calls = [];
    }
}

/// <summary>Names and lookups the call graphs share.</summary>
internal static class CallGraph
{
    /// <summary>A member as chains and messages write it: <c>Type.Method</c>, <c>new Type</c>, <c>Type.Property.get</c>.</summary>
    public static string Name(ISymbol symbol) => symbol switch
    {
        IMethodSymbol { MethodKind: MethodKind.LocalFunction } => symbol.Name,
        IMethodSymbol { MethodKind: MethodKind.Constructor } ctor => "new " + ctor.ContainingType.Name,
        IMethodSymbol { AssociatedSymbol: IPropertySymbol or IEventSymbol } accessor => accessor.ContainingType.Name + "." + accessor.AssociatedSymbol!.Name
            + accessor.MethodKind switch
            {
                MethodKind.PropertyGet => ".get",
                MethodKind.PropertySet => ".set",
                MethodKind.EventAdd => ".add",
                _ => ".remove",
            },
        _ => symbol.ContainingType is { } type ? type.Name + "." + symbol.Name : symbol.Name,
    };

    /// <summary>The steps' names; steps that share a name with another step carry their parameter types.</summary>
    public static IEnumerable<string> ChainNames(List<IMethodSymbol> steps)
    {
        var repeated = new HashSet<string>(steps.GroupBy(Name)
            .Where(static g => g.Distinct<IMethodSymbol>(SymbolEqualityComparer.Default).Count() > 1)
            .Select(static g => g.Key), StringComparer.Ordinal);
        return steps.Select(step => repeated.Contains(Name(step))
            ? $"{Name(step)}({string.Join(", ", step.Parameters.Select(static p => p.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)))})"
            : Name(step));
    }

    /// <summary>The method whose body this compilation holds, or null (metadata, abstract, extern, delegates).</summary>
    public static IMethodSymbol? SourceMethod(IMethodSymbol method)
    {
        method = (method.ReducedFrom ?? method).OriginalDefinition;
        method = method.PartialImplementationPart ?? method;
        return !method.IsAbstract && !method.IsExtern && method.MethodKind != MethodKind.DelegateInvoke
            && method.DeclaringSyntaxReferences.Length != 0 ? method : null;
    }

    /// <summary>Source order: file path, then position.</summary>
    public sealed class LocationOrder : IComparer<Location>
    {
        public static readonly LocationOrder Instance = new();

        public int Compare(Location? a, Location? b)
        {
            int file = string.CompareOrdinal(a?.SourceTree?.FilePath, b?.SourceTree?.FilePath);
            return file != 0 ? file : (a?.SourceSpan.Start ?? 0).CompareTo(b?.SourceSpan.Start ?? 0);
        }
    }
}
