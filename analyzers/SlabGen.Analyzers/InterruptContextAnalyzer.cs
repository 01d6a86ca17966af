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
using System.Collections.Immutable;
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
    private sealed record Finding(DiagnosticDescriptor Rule, string Target, Location Location, object[] Arguments) : IChainEnd;

    private sealed class CompilationAnalysis(KnownSymbols known)
    {
        private readonly CallGraph<Finding> _graph = new(known);

        public void AnalyzeOperation(OperationAnalysisContext context)
        {
            if (context.Operation is ILockOperation || CallEdges.HasTargets(context.Operation))
            {
                _graph.Analyze(context, Find,
                    static (context, finding) => context.ReportDiagnostic(Diagnostic.Create(finding.Rule, finding.Location, finding.Arguments)));
            }
        }

        public void ReportCallChains(CompilationAnalysisContext context)
        {
            foreach ((IMethodSymbol callee, Location location, string chain) in _graph.InterruptChains(context.CancellationToken))
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.SleepingCallChainInInterrupt, location, CallGraph.Name(callee), chain));
            }
        }

        /// <summary>What in this operation may sleep, or null.</summary>
        private Finding? Find(IOperation operation, IMethodSymbol owner) => operation switch
        {
            ILockOperation => Blocking("lock", operation.Syntax.GetLocation(), owner, " (lock waits for the holder)"),
            IPropertyReferenceOperation property when BlockingApis.IsBlocking(property.Property) =>
                Blocking(CallGraph.Name(property.Property), operation.Syntax.GetLocation(), owner, ""),
            IInvocationOperation invocation => FindInCall(invocation.TargetMethod, invocation.Arguments, invocation.Syntax, owner, invocation.Instance?.Type),
            IObjectCreationOperation { Constructor: { } constructor } creation => FindInCall(constructor, creation.Arguments, creation.Syntax, owner, null),
            _ => FindInTargets(operation, owner),
        };

        /// <summary>A blocking or [MaySleep] target of the other call edges (accessors, operators, foreach, using).</summary>
        private Finding? FindInTargets(IOperation operation, IMethodSymbol owner)
        {
            foreach ((IMethodSymbol target, SyntaxNode at) in CallEdges.Targets(operation))
            {
                if (FindInCall(target, [], at, owner, null) is { } finding)
                {
                    return finding;
                }
            }

            return null;
        }

        private Finding? FindInCall(IMethodSymbol method, ImmutableArray<IArgumentOperation> arguments, SyntaxNode at, IMethodSymbol owner, ITypeSymbol? receiver)
        {
            IMethodSymbol target = method.ReducedFrom ?? method;
            if (known.IsVmalloc(target))
            {
                return new Finding(Descriptors.VmallocInInterrupt, CallGraph.Name(target), at.GetLocation(), [CallGraph.Name(target), CallGraph.Name(owner)]);
            }

            foreach (IArgumentOperation argument in arguments)
            {
                if (known.IsKernelFlags(argument))
                {
                    bool implicitDefault = argument.ArgumentKind == ArgumentKind.DefaultValue;
                    Location where = (implicitDefault ? at : argument.Syntax).GetLocation();
                    string how = implicitDefault ? " (the default)"
                        : known.NamesKernel(argument) ? ""
                        : " (flags without GfpFlags.Atomic may sleep)";
                    return new Finding(Descriptors.KernelFlagsInInterrupt, CallGraph.Name(target) + " with GfpFlags.Kernel", where,
                        [CallGraph.Name(target), how, CallGraph.Name(owner)]);
                }
            }

            if (known.IsMaySleep(target))
            {
                return new Finding(Descriptors.MaySleepCallInInterrupt, CallGraph.Name(target), at.GetLocation(), [CallGraph.Name(target), CallGraph.Name(owner)]);
            }

            if (BlockingApis.IsBlocking(target, receiver))
            {
                return Blocking(CallGraph.Name(target), at.GetLocation(), owner, "");
            }

            return known.IsUserListed(target)
                ? Blocking(CallGraph.Name(target), at.GetLocation(), owner, $" (listed in {MaySleepMethodsKey})")
                : null;
        }

        private static Finding Blocking(string name, Location location, IMethodSymbol owner, string why) =>
            new(Descriptors.BlockingCallInInterrupt, name, location, [name, CallGraph.Name(owner), why]);
    }
}
