// The call graph of one compilation as the interrupt-context rules see it: for every method body its first
// direct finding and the source methods it calls (CallEdges.cs), and the calls made in interrupt context. At
// the end of the compilation one breadth-first pass from the methods with a finding, over the reversed call
// graph, gives every method that reaches one the next step of its shortest chain: linear in the graph,
// cycle-safe, and the same whatever order the methods were declared or analysed in. A generic body whose calls
// depend on its type arguments (a call on a type parameter) is a node once more per instantiation reached with
// concrete arguments, where such a call goes to the argument's implementation (Nodes). The sleeping rules
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
    private readonly ConcurrentBag<(IMethodSymbol Caller, IMethodSymbol Callee, Location Location, IMethodSymbol Target)> _interruptCalls = [];

    /// <summary>At most this many instantiations of generic methods are followed (recursive generics could make more without end).</summary>
    private const int MaxNodes = 20_000;
    private readonly ConcurrentDictionary<ISymbol, bool> _interrupt = new(SymbolEqualityComparer.Default);

    /// <summary>
    /// One walk up from the operation: the method or local function whose body holds it, whether a lambda lies
    /// between, whether it is to be skipped (inside a call the compiler removes, CallEdges.IsOmitted, or in an
    /// attribute's arguments, evaluated when the attribute is read), and the [InterruptContext] delegate type of
    /// the innermost lambda around it, if that lambda is converted to one.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
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
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
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

        if (!insideLambda && operation is IInvocationOperation invocation && CallEdges.ConstrainedParameter(invocation) is { } parameter)
        {
            // Known once the type argument is: resolved for each instantiation at the end (Nodes).
            Summary summary = SummaryOf(owner, block);
            lock (summary)
            {
                summary.Constrained.Add(((ITypeParameterSymbol)parameter.OriginalDefinition, invocation.TargetMethod, invocation.Syntax.GetLocation()));
            }
        }

        foreach ((IMethodSymbol target, SyntaxNode at) in CallEdges.Targets(operation))
        {
            if (CallGraph.SourceMethod(target) is not { } callee || _interrupt.GetOrAdd(callee, _isInterruptContext) || known.IsAmortized(callee))
            {
                continue; // interrupt-context callees are checked on their own; [Amortized] ones are not followed
            }

            Location location = at.GetLocation();
            IMethodSymbol constructed = target.ReducedFrom is null ? target : target.GetConstructedReducedFrom() ?? target;
            if (interrupt && callee.MethodKind != MethodKind.LocalFunction)
            {
                _interruptCalls.Add((owner, callee, location, constructed));
            }

            if (!insideLambda)
            {
                Summary summary = SummaryOf(owner, block);
                lock (summary)
                {
                    summary.Calls.Add((callee, location, constructed));
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

    /// <summary>Every interrupt-context call of a method that reaches a finding, with the chain written out and the finding it ends at.</summary>
    public IEnumerable<(IMethodSymbol Callee, Location Location, string Chain, TFinding Finding)> InterruptChains(CancellationToken cancellationToken)
    {
        if (_interruptCalls.IsEmpty)
        {
            yield break;
        }

        HashSet<IMethodSymbol> generic = Specializable();
        var pending = new Queue<IMethodSymbol>();
        var calls = _interruptCalls.OrderBy(static c => c.Location, CallGraph.LocationOrder.Instance)
            .Select(c => (c.Caller, Callee: Key(c.Callee, c.Target, generic, pending), c.Location)).ToList();
        Dictionary<IMethodSymbol, Node> nodes = Nodes(generic, pending, cancellationToken);
        Dictionary<IMethodSymbol, IMethodSymbol?> next = NextSteps(nodes, cancellationToken);
        foreach ((IMethodSymbol caller, IMethodSymbol callee, Location location) in calls)
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

            TFinding finding = nodes[steps[steps.Count - 1]].Finding!;
            yield return (CallGraph.SourceMethod(callee) ?? callee, location, string.Join(" → ", CallGraph.ChainNames(steps).Concat([finding.Target])), finding);
        }
    }

    /// <summary>A node of the graph: a method body, or one instantiation of a generic one (a constructed symbol).</summary>
    private sealed class Node(TFinding? finding, List<(IMethodSymbol Callee, Location Location)> calls)
    {
        public TFinding? Finding { get; } = finding;

        public List<(IMethodSymbol Callee, Location Location)> Calls { get; } = calls;
    }

    /// <summary>
    /// The graph: every analysed body, plus an instantiation of each generic method (or method of a generic type)
    /// whose calls depend on its type arguments, reached with concrete ones. In an instantiation a call on a type
    /// parameter (<c>pool.Rent()</c>, <c>TPool : IPool</c>) goes to the type argument's implementation when that
    /// type is a struct or sealed, so its exact type is known.
    /// </summary>
    private Dictionary<IMethodSymbol, Node> Nodes(HashSet<IMethodSymbol> generic, Queue<IMethodSymbol> pending, CancellationToken cancellationToken)
    {
        var nodes = new Dictionary<IMethodSymbol, Node>(SymbolEqualityComparer.Default);
        foreach (KeyValuePair<IMethodSymbol, Summary> entry in _summaries)
        {
            nodes[entry.Key] = new Node(entry.Value.FirstFinding, Edges(entry.Value, null, generic, pending));
        }

        while (pending.Count != 0 && nodes.Count < MaxNodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IMethodSymbol key = pending.Dequeue();
            if (!nodes.ContainsKey(key))
            {
                nodes[key] = _summaries.TryGetValue(CallGraph.SourceMethod(key)!, out Summary? summary)
                    ? new Node(summary.FirstFinding, Edges(summary, TypeMap(key), generic, pending))
                    : new Node(null, []);
            }
        }

        return nodes;
    }

    /// <summary>The calls of one body, in one instantiation (<paramref name="map"/>) or as written (null).</summary>
    private List<(IMethodSymbol Callee, Location Location)> Edges(Summary summary, Dictionary<ITypeParameterSymbol, ITypeSymbol>? map,
        HashSet<IMethodSymbol> generic, Queue<IMethodSymbol> pending)
    {
        var edges = new List<(IMethodSymbol, Location)>(summary.Calls.Count);
        foreach ((IMethodSymbol callee, Location location, IMethodSymbol target) in summary.Calls)
        {
            edges.Add((Key(callee, map is null ? target : Substitute(target, map) ?? target, generic, pending), location));
        }

        if (map is null)
        {
            return edges;
        }

        foreach ((ITypeParameterSymbol parameter, IMethodSymbol member, Location location) in summary.Constrained)
        {
            if (map.TryGetValue(parameter, out ITypeSymbol? argument) && argument is INamedTypeSymbol { } exact && (exact.IsValueType || exact.IsSealed)
                && CallEdges.Implementation(exact, Substitute(member, map) ?? member) is { } implementation
                && CallGraph.SourceMethod(implementation) is { } callee
                && !_interrupt.GetOrAdd(callee, _isInterruptContext) && !known.IsAmortized(callee))
            {
                edges.Add((Key(callee, implementation, generic, pending), location));
            }
        }

        return edges;
    }

    /// <summary>The node a call goes to: the instantiation when the callee's calls depend on type arguments that are all known, else the body.</summary>
    private static IMethodSymbol Key(IMethodSymbol callee, IMethodSymbol target, HashSet<IMethodSymbol> generic, Queue<IMethodSymbol> pending)
    {
        if (!generic.Contains(callee) || SymbolEqualityComparer.Default.Equals(target, target.OriginalDefinition) || MentionsTypeParameter(target))
        {
            return callee;
        }

        pending.Enqueue(target);
        return target;
    }

    /// <summary>The bodies whose calls depend on their type arguments: a call on a type parameter, or a call passing one on to such a body.</summary>
    private HashSet<IMethodSymbol> Specializable()
    {
        var generic = new HashSet<IMethodSymbol>(_summaries.Where(static e => e.Value.Constrained.Count != 0).Select(static e => e.Key), SymbolEqualityComparer.Default);
        bool grew = generic.Count != 0;
        while (grew)
        {
            grew = false;
            foreach (KeyValuePair<IMethodSymbol, Summary> entry in _summaries)
            {
                if (!generic.Contains(entry.Key) && entry.Value.Calls.Any(c => generic.Contains(c.Callee) && MentionsTypeParameter(c.Target)))
                {
                    grew |= generic.Add(entry.Key);
                }
            }
        }

        return generic;
    }

    /// <summary>Every type parameter of the instantiation <paramref name="key"/> (its own and its containing types') with its argument.</summary>
    private static Dictionary<ITypeParameterSymbol, ITypeSymbol> TypeMap(IMethodSymbol key)
    {
        var map = new Dictionary<ITypeParameterSymbol, ITypeSymbol>(SymbolEqualityComparer.Default);
        for (int i = 0; i < key.TypeArguments.Length; i++)
        {
            map[(ITypeParameterSymbol)key.TypeParameters[i].OriginalDefinition] = key.TypeArguments[i];
        }

        for (INamedTypeSymbol? type = key.ContainingType; type is not null; type = type.ContainingType)
        {
            for (int i = 0; i < type.TypeArguments.Length; i++)
            {
                map[(ITypeParameterSymbol)type.TypeParameters[i].OriginalDefinition] = type.TypeArguments[i];
            }
        }

        return map;
    }

    /// <summary><paramref name="method"/> with the type parameters of <paramref name="map"/> replaced; null when it cannot be rebuilt.</summary>
    private static IMethodSymbol? Substitute(IMethodSymbol method, Dictionary<ITypeParameterSymbol, ITypeSymbol> map)
    {
        IMethodSymbol? result = method.OriginalDefinition;
        if (method.ContainingType is { IsGenericType: true } containing && Substitute(containing, map) is INamedTypeSymbol type)
        {
            result = type.GetMembers(method.Name).OfType<IMethodSymbol>()
                .FirstOrDefault(m => SymbolEqualityComparer.Default.Equals(m.OriginalDefinition, method.OriginalDefinition));
        }
        else if (method.ContainingType is { IsGenericType: true })
        {
            return null;
        }

        return result is { IsGenericMethod: true } ? result.Construct([.. method.TypeArguments.Select(t => Substitute(t, map))]) : result;
    }

    private static ITypeSymbol Substitute(ITypeSymbol type, Dictionary<ITypeParameterSymbol, ITypeSymbol> map) => type switch
    {
        ITypeParameterSymbol parameter when map.TryGetValue((ITypeParameterSymbol)parameter.OriginalDefinition, out ITypeSymbol? argument) => argument,
        INamedTypeSymbol { IsGenericType: true } named when named.ContainingType is not { IsGenericType: true } =>
            named.OriginalDefinition.Construct([.. named.TypeArguments.Select(t => Substitute(t, map))]),
        _ => type,
    };

    private static bool MentionsTypeParameter(IMethodSymbol method)
    {
        if (method.TypeArguments.Any(MentionsTypeParameter))
        {
            return true;
        }

        for (INamedTypeSymbol? type = method.ContainingType; type is not null; type = type.ContainingType)
        {
            if (type.TypeArguments.Any(MentionsTypeParameter))
            {
                return true;
            }
        }

        return false;
    }

    private static bool MentionsTypeParameter(ITypeSymbol type) => type switch
    {
        ITypeParameterSymbol => true,
        INamedTypeSymbol named => named.TypeArguments.Any(MentionsTypeParameter),
        IArrayTypeSymbol array => MentionsTypeParameter(array.ElementType),
        IPointerTypeSymbol pointer => MentionsTypeParameter(pointer.PointedAtType),
        _ => false,
    };

    /// <summary>
    /// For every node that reaches a finding, the callee that starts its shortest chain there (null for a node with a
    /// finding of its own), nodes and edges visited in source order.
    /// </summary>
    private static Dictionary<IMethodSymbol, IMethodSymbol?> NextSteps(Dictionary<IMethodSymbol, Node> nodes, CancellationToken cancellationToken)
    {
        var callers = new Dictionary<IMethodSymbol, List<(IMethodSymbol Caller, Location Location)>>(SymbolEqualityComparer.Default);
        foreach (KeyValuePair<IMethodSymbol, Node> entry in nodes)
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
        foreach (KeyValuePair<IMethodSymbol, Node> entry in nodes
            .Where(static e => e.Value.Finding is not null)
            .OrderBy(static e => e.Value.Finding!.Location, CallGraph.LocationOrder.Instance))
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

    /// <summary>What a method body does: its first direct finding, the source methods it calls, and its calls on type parameters.</summary>
    internal sealed class Summary
    {
        public TFinding? FirstFinding;

        /// <summary>The source methods called, each with the call's target as written (constructed, for a generic one).</summary>
        public readonly List<(IMethodSymbol Callee, Location Location, IMethodSymbol Target)> Calls = [];

        /// <summary>Calls on a type parameter (<c>pool.Rent()</c> where <c>pool</c> is a <c>TPool</c>): followed per instantiation.</summary>
        public readonly List<(ITypeParameterSymbol Parameter, IMethodSymbol Member, Location Location)> Constrained = [];
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
