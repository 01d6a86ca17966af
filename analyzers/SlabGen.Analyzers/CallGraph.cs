// The call graph of one compilation as the interrupt-context rules see it: for every method body its first
// direct finding and the source methods it calls (CallEdges.cs), and the calls made in interrupt context. At
// the end of the compilation one breadth-first pass from the methods with a finding, over the reversed call
// graph, gives every method that reaches one the next step of its shortest chain: linear in the graph,
// cycle-safe, and the same whatever order the methods were declared or analysed in. A generic body whose calls
// depend on its type arguments (a call on a type parameter) is a node once more per instantiation reached with
// concrete arguments, where such a call goes to the argument's implementation (Nodes). One graph serves the sleeping
// rules and the managed-allocation rule (InterruptContextAnalyzer): an operation's call edges are found once, each edge
// marked with the kinds of chain it belongs to.
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

/// <summary>The kinds of finding one call graph follows: each edge and finding belongs to some of them.</summary>
[Flags]
internal enum Chains : byte
{
    /// <summary>Code that may sleep (SLAB101-105; chains are SLAB104).</summary>
    Sleep = 1,

    /// <summary>Managed allocation (SLAB107).</summary>
    Allocation = 2,
}

internal sealed class CallGraph(KnownSymbols known)
{
    /// <summary>Made once: a method group passed to GetOrAdd would be a new delegate per operation.</summary>
    private readonly Func<ISymbol, bool> _isInterruptContext = known.IsInterruptContext;

    private readonly ConcurrentDictionary<IMethodSymbol, Summary> _summaries = new(SymbolEqualityComparer.Default);
    private readonly ConcurrentBag<(IMethodSymbol Caller, IMethodSymbol Callee, Location Location, IMethodSymbol Target, Chains Kinds)> _interruptCalls = [];

    /// <summary>At most this many instantiations of generic methods are followed (recursive generics could make more without end).</summary>
    private const int MaxNodes = 20_000;
    private readonly ConcurrentDictionary<ISymbol, bool> _interrupt = new(SymbolEqualityComparer.Default);

    /// <summary>Callees a chain does not go into, looked up once per method: interrupt-context ones (checked on their own) and [Amortized] ones.</summary>
    private readonly ConcurrentDictionary<IMethodSymbol, bool> _stops = new(SymbolEqualityComparer.Default);
    private readonly Func<IMethodSymbol, bool> _isStop = method => known.IsInterruptContext(method) || known.IsAmortized(method);

    /// <summary>The graph resolved at the end of the compilation (generic instantiations added), made once for every kind.</summary>
    private Resolved? _resolved;

    /// <summary>
    /// Where an operation is: the method or local function whose body holds it (its summary's owner), whether a lambda
    /// lies between, and the [InterruptContext] delegate type of the innermost lambda around it, if that lambda is
    /// converted to one.
    /// </summary>
    public readonly struct Site(IMethodSymbol owner, bool insideLambda, ITypeSymbol? delegateContract, bool interrupt)
    {
        public IMethodSymbol Owner { get; } = owner;

        public bool InsideLambda { get; } = insideLambda;

        public ITypeSymbol? DelegateContract { get; } = delegateContract;

        /// <summary>Whether the code is in interrupt context: its member is, or a lambda around it is converted to an [InterruptContext] delegate type.</summary>
        public bool Interrupt { get; } = interrupt;
    }

    /// <summary>
    /// One walk up from the operation (see <see cref="Site"/>); false when the operation is to be skipped: inside a
    /// call the compiler removes (CallEdges.IsOmitted), in an attribute's arguments (evaluated when the attribute is
    /// read), or outside any method.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public bool TryLocate(IOperation operation, Block block, out Site site)
    {
        bool insideLambda = false;
        IMethodSymbol? local = null;
        ITypeSymbol? contract = null;
        site = default;
        // Switched on Kind, one interface call per node, rather than on the node's type: each type test is a cast
        // helper's walk of the class's interfaces, several per node, for every node above every operation.
        for (IOperation? node = operation; node is not null; node = node.Parent)
        {
            switch (node.Kind)
            {
                case OperationKind.Invocation:
                    var invocation = (IInvocationOperation)node;
                    if (CallEdges.MayBeOmitted(invocation.TargetMethod) && CallEdges.IsOmitted(invocation))
                    {
                        return false;
                    }

                    break;
                case OperationKind.Attribute:
                    return false;
                case OperationKind.AnonymousFunction when node != operation && local is null:
                    if (!insideLambda && node.Parent is { Kind: OperationKind.DelegateCreation, Type: var type } && known.IsInterruptDelegate(type))
                    {
                        contract = type;
                    }

                    insideLambda = true;
                    break;
                case OperationKind.LocalFunction when node != operation && local is null:
                    local = ((ILocalFunctionOperation)node).Symbol;
                    break;
            }
        }

        if ((local ?? block.Owner as IMethodSymbol) is not { } owner)
        {
            return false;
        }

        site = new Site(owner, insideLambda, contract, contract is not null || block.Interrupt);
        return true;
    }

    /// <summary>
    /// Keeps <paramref name="finding"/> as its method's first finding of <paramref name="kind"/> (in source order);
    /// code inside a lambda is not its method's (the lambda runs when it is called).
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public void AddFinding(in Site site, Block block, Chains kind, IChainEnd finding)
    {
        if (site.InsideLambda)
        {
            return;
        }

        int slot = Slot(kind);
        Summary summary = SummaryOf(site.Owner, block);
        lock (summary)
        {
            if (summary.First[slot] is not { } first || CallGraph.LocationOrder.Instance.Compare(finding.Location, first.Location) < 0)
            {
                summary.First[slot] = finding;
            }
        }
    }

    /// <summary>
    /// Records the source methods <paramref name="operation"/> calls as edges of the chains in <paramref name="kinds"/>
    /// (those for which the operation is not a finding itself), and its interrupt-context calls.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public void AddCalls(in Site site, Block block, IOperation operation, Chains kinds)
    {
        IMethodSymbol owner = site.Owner;
        if (!site.InsideLambda && operation.Kind == OperationKind.Invocation && CallEdges.ConstrainedParameter((IInvocationOperation)operation) is { } parameter)
        {
            // Known once the type argument is: resolved for each instantiation at the end (Nodes).
            Summary summary = SummaryOf(owner, block);
            lock (summary)
            {
                summary.Constrained.Add(((ITypeParameterSymbol)parameter.OriginalDefinition, ((IInvocationOperation)operation).TargetMethod, operation.Syntax.GetLocation(), kinds));
            }
        }

        if (operation.Kind == OperationKind.Invocation)
        {
            AddCall(site, block, CallEdges.Devirtualize((IInvocationOperation)operation), operation.Syntax, kinds); // most edges: no iterator
            return;
        }

        foreach ((IMethodSymbol target, SyntaxNode at) in CallEdges.Targets(operation))
        {
            AddCall(site, block, target, at, kinds);
        }
    }

    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    private void AddCall(in Site site, Block block, IMethodSymbol target, SyntaxNode at, Chains kinds)
    {
        if (CallGraph.SourceMethod(target) is not { } callee || _stops.GetOrAdd(callee, _isStop))
        {
            return; // interrupt-context callees are checked on their own; [Amortized] ones are not followed
        }

        Location location = at.GetLocation();
        IMethodSymbol constructed = target.ReducedFrom is null ? target : target.GetConstructedReducedFrom() ?? target;
        if (site.Interrupt && callee.MethodKind != MethodKind.LocalFunction)
        {
            _interruptCalls.Add((site.Owner, callee, location, constructed, kinds));
        }

        if (!site.InsideLambda)
        {
            Summary summary = SummaryOf(site.Owner, block);
            lock (summary)
            {
                summary.Calls.Add((callee, location, constructed, kinds));
            }
        }
    }

    /// <summary>How many kinds of finding there are (<see cref="Chains"/>).</summary>
    private const int Kinds = 2;

    private static int Slot(Chains kind) => kind == Chains.Sleep ? 0 : 1;

    /// <summary>How messages name interrupt-context code: a lambda for a contract delegate type, else the member (and its contract).</summary>
    public string Label(Block block, in Site site) => site.DelegateContract is { } delegateContract
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

    /// <summary>
    /// Every interrupt-context call of a method that reaches a finding of <paramref name="kind"/>, with the chain
    /// written out and the finding it ends at.
    /// </summary>
    public IEnumerable<(IMethodSymbol Callee, Location Location, string Chain, IChainEnd Finding)> InterruptChains(Chains kind, CancellationToken cancellationToken)
    {
        if (_interruptCalls.IsEmpty)
        {
            yield break;
        }

        Resolved resolved = _resolved ??= Resolve(cancellationToken);
        int slot = Slot(kind);
        Dictionary<IMethodSymbol, IMethodSymbol?> next = NextSteps(resolved.Nodes, kind, cancellationToken);
        foreach ((IMethodSymbol caller, IMethodSymbol callee, Location location, Chains kinds) in resolved.Calls)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if ((kinds & kind) == 0 || !next.ContainsKey(callee))
            {
                continue;
            }

            var steps = new List<IMethodSymbol> { caller };
            for (IMethodSymbol? step = callee; step is not null; step = next[step])
            {
                steps.Add(step);
            }

            IChainEnd finding = resolved.Nodes[steps[steps.Count - 1]].First[slot]!;
            yield return (CallGraph.SourceMethod(callee) ?? callee, location, string.Join(" → ", CallGraph.ChainNames(steps)) + " → " + finding.Target, finding);
        }
    }

    /// <summary>The interrupt-context calls in source order, each to its node, and the nodes: what every kind's chains are read from.</summary>
    private Resolved Resolve(CancellationToken cancellationToken)
    {
        HashSet<IMethodSymbol> generic = Specializable();
        var pending = new Queue<IMethodSymbol>();
        var calls = _interruptCalls.OrderBy(static c => c.Location, CallGraph.LocationOrder.Instance)
            .Select(c => (c.Caller, Key(c.Callee, c.Target, generic, pending), c.Location, c.Kinds)).ToList();
        return new Resolved(calls, Nodes(generic, pending, cancellationToken));
    }

    private sealed class Resolved(List<(IMethodSymbol Caller, IMethodSymbol Callee, Location Location, Chains Kinds)> calls, Dictionary<IMethodSymbol, Node> nodes)
    {
        public List<(IMethodSymbol Caller, IMethodSymbol Callee, Location Location, Chains Kinds)> Calls { get; } = calls;

        public Dictionary<IMethodSymbol, Node> Nodes { get; } = nodes;
    }

    /// <summary>A node of the graph: a method body, or one instantiation of a generic one (a constructed symbol).</summary>
    private sealed class Node(IChainEnd?[] first, List<(IMethodSymbol Callee, Location Location, Chains Kinds)> calls)
    {
        /// <summary>The body's first finding of each kind (indexed by Slot).</summary>
        public IChainEnd?[] First { get; } = first;

        public List<(IMethodSymbol Callee, Location Location, Chains Kinds)> Calls { get; } = calls;
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
            nodes[entry.Key] = new Node(entry.Value.First, Edges(entry.Value, null, generic, pending));
        }

        while (pending.Count != 0 && nodes.Count < MaxNodes)
        {
            cancellationToken.ThrowIfCancellationRequested();
            IMethodSymbol key = pending.Dequeue();
            if (!nodes.ContainsKey(key))
            {
                nodes[key] = _summaries.TryGetValue(CallGraph.SourceMethod(key)!, out Summary? summary)
                    ? new Node(summary.First, Edges(summary, TypeMap(key), generic, pending))
                    : new Node(new IChainEnd?[Kinds], []);
            }
        }

        return nodes;
    }

    /// <summary>The calls of one body, in one instantiation (<paramref name="map"/>) or as written (null).</summary>
    private List<(IMethodSymbol Callee, Location Location, Chains Kinds)> Edges(Summary summary, Dictionary<ITypeParameterSymbol, ITypeSymbol>? map,
        HashSet<IMethodSymbol> generic, Queue<IMethodSymbol> pending)
    {
        var edges = new List<(IMethodSymbol, Location, Chains)>(summary.Calls.Count);
        foreach ((IMethodSymbol callee, Location location, IMethodSymbol target, Chains kinds) in summary.Calls)
        {
            edges.Add((Key(callee, map is null ? target : Substitute(target, map) ?? target, generic, pending), location, kinds));
        }

        if (map is null)
        {
            return edges;
        }

        foreach ((ITypeParameterSymbol parameter, IMethodSymbol member, Location location, Chains kinds) in summary.Constrained)
        {
            if (map.TryGetValue(parameter, out ITypeSymbol? argument) && argument is INamedTypeSymbol { } exact && (exact.IsValueType || exact.IsSealed)
                && CallEdges.Implementation(exact, Substitute(member, map) ?? member) is { } implementation
                && CallGraph.SourceMethod(implementation) is { } callee
                && !_stops.GetOrAdd(callee, _isStop))
            {
                edges.Add((Key(callee, implementation, generic, pending), location, kinds));
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
    /// For every node that reaches a finding of <paramref name="kind"/>, the callee that starts its shortest chain there
    /// (null for a node with a finding of its own), over that kind's edges, nodes and edges visited in source order.
    /// </summary>
    private static Dictionary<IMethodSymbol, IMethodSymbol?> NextSteps(Dictionary<IMethodSymbol, Node> nodes, Chains kind, CancellationToken cancellationToken)
    {
        int slot = Slot(kind);
        var callers = new Dictionary<IMethodSymbol, List<(IMethodSymbol Caller, Location Location)>>(SymbolEqualityComparer.Default);
        foreach (KeyValuePair<IMethodSymbol, Node> entry in nodes)
        {
            foreach ((IMethodSymbol callee, Location location, Chains kinds) in entry.Value.Calls)
            {
                if ((kinds & kind) == 0)
                {
                    continue;
                }

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
            .Where(e => e.Value.First[slot] is not null)
            .OrderBy(e => e.Value.First[slot]!.Location, CallGraph.LocationOrder.Instance))
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

    /// <summary>
    /// What a method body does: its first direct finding of each kind, the source methods it calls, and its calls on
    /// type parameters; each call with the kinds of chain it is an edge of (a call that is a finding of one kind, such as
    /// <c>new</c> of a class for allocation, is not followed for that kind).
    /// </summary>
    internal sealed class Summary
    {
        /// <summary>The first finding of each kind, indexed by Slot.</summary>
        public readonly IChainEnd?[] First = new IChainEnd?[Kinds];

        /// <summary>The source methods called, each with the call's target as written (constructed, for a generic one).</summary>
        public readonly List<(IMethodSymbol Callee, Location Location, IMethodSymbol Target, Chains Kinds)> Calls = [];

        /// <summary>Calls on a type parameter (<c>pool.Rent()</c> where <c>pool</c> is a <c>TPool</c>): followed per instantiation.</summary>
        public readonly List<(ITypeParameterSymbol Parameter, IMethodSymbol Member, Location Location, Chains Kinds)> Constrained = [];
    }

    // Names and lookups: how chains and messages write members, and which methods have bodies here.

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
    /// <remarks>Run for every chain reported (5,300 on the generated project): loops over the few steps, no LINQ.</remarks>
    public static string[] ChainNames(List<IMethodSymbol> steps)
    {
        var names = new string[steps.Count];
        for (int i = 0; i < names.Length; i++)
        {
            names[i] = Name(steps[i]);
        }

        var written = new string[names.Length];
        for (int i = 0; i < names.Length; i++)
        {
            bool shared = false;
            for (int j = 0; j < names.Length && !shared; j++)
            {
                shared = j != i && names[j] == names[i] && !SymbolEqualityComparer.Default.Equals(steps[j], steps[i]);
            }

            written[i] = shared
                ? $"{names[i]}({string.Join(", ", steps[i].Parameters.Select(static p => p.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)))})"
                : names[i];
        }

        return written;
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
