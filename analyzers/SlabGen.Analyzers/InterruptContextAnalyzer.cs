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
        Descriptors.UnknownTargetInInterrupt, Descriptors.PInvokeInInterrupt,
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

            var analysis = new CompilationAnalysis(known);
            start.RegisterOperationBlockStartAction(blockStart =>
            {
                if (blockStart.IsGeneratedCode)
                {
                    return;
                }

                CallGraph<Finding>.Block block = analysis.StartBlock(blockStart.OwningSymbol);
                blockStart.RegisterOperationAction(context => analysis.AnalyzeOperation(context, block),
                    OperationKind.Invocation, OperationKind.PropertyReference, OperationKind.Lock, OperationKind.ObjectCreation,
                    OperationKind.Binary, OperationKind.Unary, OperationKind.Conversion, OperationKind.CompoundAssignment,
                    OperationKind.Increment, OperationKind.Decrement, OperationKind.EventAssignment, OperationKind.Loop,
                    OperationKind.Using, OperationKind.UsingDeclaration);
            });
            start.RegisterCompilationEndAction(analysis.ReportCallChains);
        });
    }

    /// <summary>
    /// One thing that may sleep: the rule that reports it directly, the member's name, what a chain ends in, where,
    /// and a detail for the message (how the flags may sleep, why a call blocks). The interrupt-context code's name
    /// is added when it is reported.
    /// </summary>
    private sealed record Finding(DiagnosticDescriptor Rule, string Name, string Target, Location Location, string Detail = "") : IChainEnd
    {
        public Diagnostic ToDiagnostic(string context) => Diagnostic.Create(Rule, Location, Rule.Id switch
        {
            RuleIdentifiers.KernelFlagsInInterrupt => [Name, Detail, context],
            RuleIdentifiers.BlockingCallInInterrupt => [Name, context, Detail],
            _ => new object[] { Name, context },
        });
    }

    private sealed class CompilationAnalysis(KnownSymbols known)
    {
        private readonly CallGraph<Finding> _graph = new(known);

        public CallGraph<Finding>.Block StartBlock(ISymbol owner) => _graph.StartBlock(owner);

        [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
        public void AnalyzeOperation(OperationAnalysisContext context, CallGraph<Finding>.Block block)
        {
            if (context.Operation is ILockOperation || CallEdges.HasTargets(context.Operation))
            {
                _graph.Analyze(context, block, Find, static (context, finding, where) => context.ReportDiagnostic(finding.ToDiagnostic(where)));
            }

            if (context.Operation is IInvocationOperation invocation)
            {
                ReportOpaqueCall(context, block, invocation);
            }
        }

        /// <summary>
        /// The two opt-in rules: SLAB108 for a call whose code the analysis cannot see (an interface, abstract or
        /// virtual method of this compilation on a receiver of unknown type, or a delegate) unless it is an
        /// [InterruptContext] contract, and SLAB109 for a P/Invoke without [SuppressGCTransition].
        /// </summary>
        private void ReportOpaqueCall(OperationAnalysisContext context, CallGraph<Finding>.Block block, IInvocationOperation invocation)
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

            if (_graph.InterruptLabel(context, block) is not { } where)
            {
                return;
            }

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
            foreach ((IMethodSymbol callee, Location location, string chain, _) in _graph.InterruptChains(context.CancellationToken))
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.SleepingCallChainInInterrupt, location, CallGraph.Name(callee), chain));
            }
        }

        /// <summary>What in this operation may sleep, or null.</summary>
        [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
        private Finding? Find(IOperation operation) => operation switch
        {
            ILockOperation => Blocking("lock", operation.Syntax.GetLocation(), " (lock waits for the holder)"),
            IPropertyReferenceOperation property when BlockingApis.IsBlocking(property.Property) =>
                Blocking(CallGraph.Name(property.Property), operation.Syntax.GetLocation(), ""),
            IInvocationOperation invocation => FindInCall(invocation.TargetMethod, invocation.Arguments, invocation.Syntax, invocation.Instance?.Type),
            IObjectCreationOperation { Constructor: { } constructor } creation => FindInCall(constructor, creation.Arguments, creation.Syntax, null),
            _ => FindInTargets(operation),
        };

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
                ? Blocking(CallGraph.Name(target), at.GetLocation(), $" (listed in {MaySleepMethodsKey})")
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
}
