// SLAB1xx: code that may sleep, called in interrupt context. A method is in interrupt context when it or its
// type carries [InterruptContext]; lambdas, anonymous methods and local functions written inside it are too.
//
// Direct findings (Vmalloc, GfpFlags.Kernel, [MaySleep], blocking framework calls) are reported as the
// operations are seen. Every call edge C# has counts: invocations, property and indexer getters and setters,
// object creation (constructor initializers are invocations), user-defined operators and conversions, event
// add/remove, foreach (GetEnumerator, MoveNext, Current, Dispose) and using (Dispose). Calls the compiler removes
// ([Conditional] whose symbol the file does not define, partial methods without a body) are not edges, and nothing
// inside their arguments counts either.
//
// For calls of other methods of this compilation, every method body gets a summary (its first direct finding and
// the methods it calls). At the end of the compilation one breadth-first pass from the methods that sleep, over
// the reversed call graph, gives every method that reaches one the next step of its shortest chain: linear in the
// call graph, cycle-safe, and independent of declaration order. Chains write overloads with their parameters when
// two steps share a name.
//
// What it cannot see: calls through delegates and interfaces, and virtual calls resolved to an override at run
// time (it follows the method named at the call site); GfpFlags that are not constants.
using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>Reports calls that may sleep in <c>[InterruptContext]</c> code.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class InterruptContextAnalyzer : DiagnosticAnalyzer
{
    /// <summary>The .editorconfig key for more methods that may sleep: Namespace.Type.Method, separated by commas.</summary>
    public const string MaySleepMethodsKey = "slabgen_may_sleep_methods";

    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
    [
        Descriptors.VmallocInInterrupt, Descriptors.KernelFlagsInInterrupt, Descriptors.MaySleepCallInInterrupt,
        Descriptors.SleepingCallChainInInterrupt, Descriptors.BlockingCallInInterrupt,
    ];

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            var known = KnownSymbols.Create(start.Compilation, start.Options.AnalyzerConfigOptionsProvider.GlobalOptions);
            if (known is null)
            {
                return;
            }

            var analysis = new CompilationAnalysis(known);
            start.RegisterOperationAction(analysis.AnalyzeOperation,
                OperationKind.Invocation, OperationKind.PropertyReference, OperationKind.Lock, OperationKind.ObjectCreation,
                OperationKind.Binary, OperationKind.Unary, OperationKind.Conversion, OperationKind.CompoundAssignment,
                OperationKind.Increment, OperationKind.Decrement, OperationKind.EventAssignment, OperationKind.Loop,
                OperationKind.Using, OperationKind.UsingDeclaration);
            start.RegisterCompilationEndAction(analysis.ReportCallChains);
        });
    }

    /// <summary>One thing that may sleep: what it is, for messages, and which rule reports it directly.</summary>
    private sealed record Finding(DiagnosticDescriptor Rule, string Target, Location Location, object[] Arguments);

    /// <summary>What a method body does: its first direct finding and the source methods it calls.</summary>
    private sealed class MethodSummary
    {
        public Finding? FirstFinding;
        public readonly List<(IMethodSymbol Callee, Location Location)> Calls = [];
    }

    private sealed class CompilationAnalysis(KnownSymbols known)
    {
        private readonly ConcurrentDictionary<IMethodSymbol, MethodSummary> _summaries = new(SymbolEqualityComparer.Default);
        private readonly ConcurrentBag<(IMethodSymbol Caller, IMethodSymbol Callee, Location Location)> _interruptCalls = [];

        public void AnalyzeOperation(OperationAnalysisContext context)
        {
            IOperation operation = context.Operation;
            if (CallEdges.IsOmitted(operation))
            {
                return;
            }

            (IMethodSymbol? owner, bool insideLambda) = Owner(operation, context.ContainingSymbol);
            if (owner is null)
            {
                return;
            }

            bool interrupt = known.IsInterruptContext(context.ContainingSymbol);
            Finding? finding = Find(operation, owner);
            if (finding is not null)
            {
                if (interrupt)
                {
                    context.ReportDiagnostic(Diagnostic.Create(finding.Rule, finding.Location, finding.Arguments));
                }

                if (!insideLambda)
                {
                    Record(owner, summary =>
                    {
                        if (summary.FirstFinding is null || Before(finding.Location, summary.FirstFinding.Location))
                        {
                            summary.FirstFinding = finding;
                        }
                    });
                }

                return;
            }

            foreach ((IMethodSymbol target, Location location) in CallEdges.Targets(operation))
            {
                if (SourceMethod(target) is not { } callee || known.IsInterruptContext(callee))
                {
                    continue;
                }

                if (interrupt && callee.MethodKind != MethodKind.LocalFunction)
                {
                    _interruptCalls.Add((owner, callee, location));
                }

                if (!insideLambda)
                {
                    Record(owner, summary => summary.Calls.Add((callee, location)));
                }
            }
        }

        public void ReportCallChains(CompilationAnalysisContext context)
        {
            if (_interruptCalls.IsEmpty)
            {
                return;
            }

            Dictionary<IMethodSymbol, IMethodSymbol?> next = NextSteps(context.CancellationToken);
            foreach ((IMethodSymbol caller, IMethodSymbol callee, Location location) in _interruptCalls.OrderBy(static c => c.Location.SourceSpan.Start))
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                if (!next.ContainsKey(callee))
                {
                    continue;
                }

                var steps = new List<IMethodSymbol> { caller };
                for (IMethodSymbol? step = callee; step is not null; step = next[step])
                {
                    steps.Add(step);
                }

                Finding finding = _summaries[steps[steps.Count - 1]].FirstFinding!;
                string path = string.Join(" → ", ChainNames(steps).Concat([finding.Target]));
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.SleepingCallChainInInterrupt, location, Name(callee), path));
            }
        }

        /// <summary>
        /// For every method that reaches something that may sleep, the callee that starts its shortest chain there
        /// (null for a method that sleeps itself): one breadth-first pass from the sleeping methods over the
        /// reversed call graph, each method and edge visited in source order, so the result is the same whatever
        /// order the methods were analysed or declared in, and cycles cost nothing extra.
        /// </summary>
        private Dictionary<IMethodSymbol, IMethodSymbol?> NextSteps(System.Threading.CancellationToken cancellationToken)
        {
            var callers = new Dictionary<IMethodSymbol, List<(IMethodSymbol Caller, Location Location)>>(SymbolEqualityComparer.Default);
            foreach (KeyValuePair<IMethodSymbol, MethodSummary> entry in _summaries)
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
            foreach (KeyValuePair<IMethodSymbol, MethodSummary> entry in _summaries
                .Where(static e => e.Value.FirstFinding is not null)
                .OrderBy(static e => e.Value.FirstFinding!.Location, LocationOrder.Instance))
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

                foreach ((IMethodSymbol caller, _) in list.OrderBy(static c => c.Location, LocationOrder.Instance))
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

        /// <summary>The steps' names; steps that share a name with another step carry their parameter types.</summary>
        private static IEnumerable<string> ChainNames(List<IMethodSymbol> steps)
        {
            var repeated = new HashSet<string>(steps.GroupBy(Name)
                .Where(static g => g.Distinct<IMethodSymbol>(SymbolEqualityComparer.Default).Count() > 1)
                .Select(static g => g.Key), StringComparer.Ordinal);
            return steps.Select(step => repeated.Contains(Name(step))
                ? $"{Name(step)}({string.Join(", ", step.Parameters.Select(static p => p.Type.ToDisplayString(SymbolDisplayFormat.MinimallyQualifiedFormat)))})"
                : Name(step));
        }

        private void Record(IMethodSymbol method, Action<MethodSummary> update)
        {
            MethodSummary summary = _summaries.GetOrAdd(method, static _ => new MethodSummary());
            lock (summary)
            {
                update(summary);
            }
        }

        /// <summary>What in this operation may sleep, or null.</summary>
        private Finding? Find(IOperation operation, IMethodSymbol owner) => operation switch
        {
            ILockOperation => Blocking("lock", operation.Syntax.GetLocation(), owner, " (lock waits for the holder)"),
            IPropertyReferenceOperation property when BlockingApis.IsBlocking(property.Property) =>
                Blocking(Name(property.Property), operation.Syntax.GetLocation(), owner, ""),
            IInvocationOperation invocation => FindInCall(invocation.TargetMethod, invocation.Arguments, invocation.Syntax.GetLocation(), owner, invocation.Instance?.Type),
            IObjectCreationOperation { Constructor: { } constructor } creation => FindInCall(constructor, creation.Arguments, creation.Syntax.GetLocation(), owner, null),
            _ => FindInTargets(operation, owner),
        };

        /// <summary>A blocking or [MaySleep] target of the other call edges (accessors, operators, foreach, using).</summary>
        private Finding? FindInTargets(IOperation operation, IMethodSymbol owner)
        {
            foreach ((IMethodSymbol target, Location location) in CallEdges.Targets(operation))
            {
                if (FindInCall(target, [], location, owner, null) is { } finding)
                {
                    return finding;
                }
            }

            return null;
        }

        private Finding? FindInCall(IMethodSymbol method, ImmutableArray<IArgumentOperation> arguments, Location location, IMethodSymbol owner, ITypeSymbol? receiver)
        {
            IMethodSymbol target = method.ReducedFrom ?? method;
            if (known.IsVmalloc(target))
            {
                return new Finding(Descriptors.VmallocInInterrupt, Name(target), location, [Name(target), Name(owner)]);
            }

            foreach (IArgumentOperation argument in arguments)
            {
                if (known.IsKernelFlags(argument))
                {
                    bool implicitDefault = argument.ArgumentKind == ArgumentKind.DefaultValue;
                    Location at = implicitDefault ? location : argument.Syntax.GetLocation();
                    string how = implicitDefault ? " (the default)"
                        : known.NamesKernel(argument) ? ""
                        : " (flags without GfpFlags.Atomic may sleep)";
                    return new Finding(Descriptors.KernelFlagsInInterrupt, Name(target) + " with GfpFlags.Kernel", at,
                        [Name(target), how, Name(owner)]);
                }
            }

            if (known.IsMaySleep(target))
            {
                return new Finding(Descriptors.MaySleepCallInInterrupt, Name(target), location, [Name(target), Name(owner)]);
            }

            if (BlockingApis.IsBlocking(target, receiver))
            {
                return Blocking(Name(target), location, owner, "");
            }

            return known.IsUserListed(target)
                ? Blocking(Name(target), location, owner, $" (listed in {MaySleepMethodsKey})")
                : null;
        }

        private static Finding Blocking(string name, Location location, IMethodSymbol owner, string why) =>
            new(Descriptors.BlockingCallInInterrupt, name, location, [name, Name(owner), why]);

        /// <summary>The method or local function whose body holds the operation, and whether a lambda lies between.</summary>
        private static (IMethodSymbol? Owner, bool InsideLambda) Owner(IOperation operation, ISymbol containing)
        {
            bool insideLambda = false;
            for (IOperation? node = operation.Parent; node is not null; node = node.Parent)
            {
                if (node is IAnonymousFunctionOperation)
                {
                    insideLambda = true;
                }
                else if (node is ILocalFunctionOperation local)
                {
                    return (local.Symbol, insideLambda);
                }
            }

            return (containing as IMethodSymbol, insideLambda);
        }

        /// <summary>The method whose body this compilation holds, or null (metadata, abstract, extern, delegates).</summary>
        private static IMethodSymbol? SourceMethod(IMethodSymbol method)
        {
            method = (method.ReducedFrom ?? method).OriginalDefinition;
            method = method.PartialImplementationPart ?? method;
            return !method.IsAbstract && !method.IsExtern && method.MethodKind != MethodKind.DelegateInvoke
                && method.DeclaringSyntaxReferences.Length != 0 ? method : null;
        }

        private static bool Before(Location a, Location b) => LocationOrder.Instance.Compare(a, b) < 0;

        private static string Name(ISymbol symbol) => symbol switch
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

        /// <summary>Source order: file path, then position.</summary>
        private sealed class LocationOrder : IComparer<Location>
        {
            public static readonly LocationOrder Instance = new();

            public int Compare(Location? a, Location? b)
            {
                int file = string.CompareOrdinal(a?.SourceTree?.FilePath, b?.SourceTree?.FilePath);
                return file != 0 ? file : (a?.SourceSpan.Start ?? 0).CompareTo(b?.SourceSpan.Start ?? 0);
            }
        }
    }
}
