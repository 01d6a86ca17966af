// SLAB1xx: code that may sleep, managed allocation and await, in interrupt context. One analyzer for all of them, so
// that every operation is located and its call edges found once (CallGraph.cs), for both kinds of chain: what may sleep
// (SleepingCalls.cs; SLAB101-105), what allocates on the managed heap (ManagedAllocations.cs; SLAB107), and awaits
// (Awaits.cs; SLAB106). A method is in interrupt context when it or its
// type carries [InterruptContext]; lambdas, anonymous methods and local functions written inside it are too.
//
// Direct findings (Vmalloc, GfpFlags.Kernel, [MaySleep], blocking framework calls) are reported as the
// operations are seen. Every call edge C# has counts: invocations, property and indexer getters and setters,
// object creation (constructor initializers are invocations), user-defined operators and conversions, event
// add/remove, foreach (GetEnumerator, MoveNext, Current, Dispose) and using (Dispose). Calls the compiler removes
// ([Conditional] whose symbol the file does not define, partial methods without a body) are not edges, and nothing
// inside their arguments counts either.
//
// For calls of other methods of this compilation, every method body gets a summary (its first direct finding of each
// kind and the methods it calls). At the end of the compilation one breadth-first pass from the methods that sleep, over
// the reversed call graph, gives every method that reaches one the next step of its shortest chain: linear in the
// call graph, cycle-safe, and independent of declaration order. Chains write overloads with their parameters when
// two steps share a name.
//
// What it cannot see: calls through delegates and interfaces, and virtual calls resolved to an override at run
// time (it follows the method named at the call site); GfpFlags that are not constants.
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>Reports calls that may sleep, managed allocations and awaits in <c>[InterruptContext]</c> code.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class InterruptContextAnalyzer : DiagnosticAnalyzer
{
    /// <summary>The .editorconfig key for more methods that may sleep: Namespace.Type.Method, separated by commas.</summary>
    public const string MaySleepMethodsKey = "slabgen_may_sleep_methods";

    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
    [
        Descriptors.VmallocInInterrupt, Descriptors.KernelFlagsInInterrupt, Descriptors.MaySleepCallInInterrupt,
        Descriptors.SleepingCallChainInInterrupt, Descriptors.BlockingCallInInterrupt, Descriptors.AwaitInInterrupt,
        Descriptors.ManagedAllocationInInterrupt, Descriptors.UnknownTargetInInterrupt, Descriptors.PInvokeInInterrupt,
    ];

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        // Generated code is skipped here, block by block (blockStart.IsGeneratedCode), not by the driver: with
        // GeneratedCodeAnalysisFlags.None the driver checks every reported diagnostic's location by walking its file
        // for [GeneratedCode] symbols, a third of these analyzers' time on a project with many findings.
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.Analyze | GeneratedCodeAnalysisFlags.ReportDiagnostics);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            var known = KnownSymbols.Create(start.Compilation, start.Options, start.CancellationToken);
            if (known is null)
            {
                return;
            }

            bool cachesStaticMethodGroups = start.Compilation is CSharpCompilation { LanguageVersion: >= LanguageVersion.CSharp11 };
            var analysis = new CompilationAnalysis(known, cachesStaticMethodGroups);
            start.RegisterOperationBlockStartAction(blockStart =>
            {
                if (blockStart.IsGeneratedCode)
                {
                    return;
                }

                CallGraph.Block block = analysis.StartBlock(blockStart.OwningSymbol);
                blockStart.RegisterOperationAction(context => analysis.AnalyzeOperation(context, block),
                    OperationKind.Invocation, OperationKind.PropertyReference, OperationKind.Lock, OperationKind.ObjectCreation,
                    OperationKind.ArrayCreation, OperationKind.Binary, OperationKind.Unary, OperationKind.Conversion,
                    OperationKind.CompoundAssignment, OperationKind.Increment, OperationKind.Decrement, OperationKind.EventAssignment,
                    OperationKind.Loop, OperationKind.Using, OperationKind.UsingDeclaration, OperationKind.DelegateCreation,
                    OperationKind.InterpolatedString, OperationKind.CollectionExpression, OperationKind.Await);
            });
            start.RegisterCompilationEndAction(analysis.ReportCallChains);
        });
    }

    private sealed class CompilationAnalysis(KnownSymbols known, bool cachesStaticMethodGroups)
    {
        private readonly CallGraph _graph = new(known);
        private readonly SleepingCalls _sleeping = new(known);

        public CallGraph.Block StartBlock(ISymbol owner) => _graph.StartBlock(owner);

        /// <summary>
        /// One operation: located once; a finding of each kind it may be (reported at once in interrupt context, and
        /// kept as its method's first); for the kinds it is not a finding of, the calls it makes, as edges.
        /// </summary>
        [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
        public void AnalyzeOperation(OperationAnalysisContext context, CallGraph.Block block)
        {
            IOperation operation = context.Operation;
            bool calls = CallEdges.HasTargets(operation);
            OperationKind kind = operation.Kind;
            bool maySleep = calls || kind == OperationKind.Lock;
            bool mayAllocate = calls || ManagedAllocations.MayAllocate(operation);
            if (kind is OperationKind.Await or OperationKind.Loop or OperationKind.Using or OperationKind.UsingDeclaration)
            {
                Awaits.Analyze(context, block, known);
            }

            if ((!maySleep && !mayAllocate) || !_graph.TryLocate(operation, block, out CallGraph.Site site))
            {
                return;
            }

            Chains follow = 0;
            if (maySleep)
            {
                if (_sleeping.Find(operation) is { } finding)
                {
                    if (site.Interrupt)
                    {
                        context.ReportDiagnostic(finding.ToDiagnostic(_graph.Label(block, site)));
                    }

                    _graph.AddFinding(site, block, Chains.Sleep, finding);
                }
                else
                {
                    follow |= Chains.Sleep;
                }
            }

            if (mayAllocate)
            {
                if (ManagedAllocations.Find(operation, cachesStaticMethodGroups) is { } allocation)
                {
                    if (site.Interrupt)
                    {
                        context.ReportDiagnostic(Diagnostic.Create(Descriptors.ManagedAllocationInInterrupt, allocation.Location, allocation.Target,
                            $"in '{_graph.Label(block, site)}'"));
                    }

                    _graph.AddFinding(site, block, Chains.Allocation, allocation);
                }
                else
                {
                    follow |= Chains.Allocation;
                }
            }

            if (calls && follow != 0)
            {
                _graph.AddCalls(site, block, operation, follow);
            }

            if (kind == OperationKind.Invocation)
            {
                ReportOpaqueCall(context, block, site, (IInvocationOperation)operation);
            }
        }

        /// <summary>
        /// The two opt-in rules: SLAB108 for a call whose code the analysis cannot see (an interface, abstract or
        /// virtual method of this compilation on a receiver of unknown type, or a delegate) unless it is an
        /// [InterruptContext] contract, and SLAB109 for a P/Invoke without [SuppressGCTransition].
        /// </summary>
        private void ReportOpaqueCall(OperationAnalysisContext context, CallGraph.Block block, in CallGraph.Site site, IInvocationOperation invocation)
        {
            IMethodSymbol target = invocation.TargetMethod;
            string? through = target.MethodKind == MethodKind.DelegateInvoke ? "a delegate"
                : CallEdges.IsDispatched(target) && target.DeclaringSyntaxReferences.Length != 0 && CallEdges.ConcreteType(invocation.Instance) is null
                    ? target.ContainingType.TypeKind == TypeKind.Interface ? "an interface" : target.IsAbstract ? "an abstract method" : "a virtual method"
                : null;
            bool native = target.IsExtern ? target.GetDllImportData() is not null
                : target.IsStatic && target.IsPartialDefinition && HasAttributeNamed(target, "LibraryImportAttribute");
            if ((through is null || known.IsContract(target)) && (!native || HasAttributeNamed(target, "SuppressGCTransitionAttribute")))
            {
                return;
            }

            if (!site.Interrupt)
            {
                return;
            }

            string where = _graph.Label(block, site);
            if (native)
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.PInvokeInInterrupt, invocation.Syntax.GetLocation(), CallGraph.Name(target), where));
                return;
            }

            string contract = target.MethodKind == MethodKind.DelegateInvoke ? $"the delegate type '{target.ContainingType.Name}'" : $"'{CallGraph.Name(target)}'";
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.UnknownTargetInInterrupt, invocation.Syntax.GetLocation(),
                CallGraph.Name(target), through, where, contract));
        }

        private static bool HasAttributeNamed(IMethodSymbol method, string name)
        {
            foreach (AttributeData attribute in method.GetAttributes())
            {
                if (attribute.AttributeClass?.Name == name)
                {
                    return true;
                }
            }

            return false;
        }

        public void ReportCallChains(CompilationAnalysisContext context)
        {
            foreach ((IMethodSymbol callee, Location location, string chain, _) in _graph.InterruptChains(Chains.Sleep, context.CancellationToken))
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.SleepingCallChainInInterrupt, location, CallGraph.Name(callee), chain));
            }

            // One warning per allocation, at the allocation, with its first chain and how many interrupt-context calls
            // reach it: one growth site that 55 hot callers reach is one warning, suppressed (or fixed) in one place.
            foreach (var cause in _graph.InterruptChains(Chains.Allocation, context.CancellationToken).GroupBy(static c => c.Finding))
            {
                string chain = cause.First().Chain;
                int more = cause.Count() - 1;
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.ManagedAllocationInInterrupt, cause.Key.Location, cause.Key.Target,
                    "through " + chain + (more == 0 ? "" : $" (and {more} more interrupt-context call{(more == 1 ? "" : "s")})")));
            }
        }
    }
}
