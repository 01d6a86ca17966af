// SLAB1xx: code that may sleep, called in interrupt context. A method is in interrupt context when it or its
// type carries [InterruptContext]; lambdas, anonymous methods and local functions written inside it are too.
//
// Direct findings (Vmalloc, GfpFlags.Kernel, [MaySleep], blocking framework calls) are reported as the
// operations are seen. For calls of other methods of this compilation, every method body gets a summary (its
// first direct finding and the methods it calls); at the end of the compilation the summaries answer, with the
// chain, whether a callee may sleep however deep the call goes. Cycles end the search; each method is summarised
// once, so the work is linear in the size of the call graph.
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
                OperationKind.Invocation, OperationKind.PropertyReference, OperationKind.Lock);
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

            if (operation is IInvocationOperation invocation && SourceMethod(invocation.TargetMethod) is { } callee
                && !known.IsInterruptContext(callee))
            {
                if (interrupt && callee.MethodKind != MethodKind.LocalFunction)
                {
                    _interruptCalls.Add((owner, callee, invocation.Syntax.GetLocation()));
                }

                if (!insideLambda)
                {
                    Record(owner, summary => summary.Calls.Add((callee, invocation.Syntax.GetLocation())));
                }
            }
        }

        public void ReportCallChains(CompilationAnalysisContext context)
        {
            var chains = new Dictionary<IMethodSymbol, List<string>?>(SymbolEqualityComparer.Default);
            foreach ((IMethodSymbol caller, IMethodSymbol callee, Location location) in _interruptCalls.OrderBy(static c => c.Location.SourceSpan.Start))
            {
                context.CancellationToken.ThrowIfCancellationRequested();
                if (ChainFrom(callee, chains, new HashSet<IMethodSymbol>(SymbolEqualityComparer.Default)) is { } chain)
                {
                    string path = string.Join(" → ", new[] { Name(caller) }.Concat(chain));
                    context.ReportDiagnostic(Diagnostic.Create(Descriptors.SleepingCallChainInInterrupt, location, Name(callee), path));
                }
            }
        }

        /// <summary>The chain from <paramref name="method"/> to something that may sleep, or null. Memoised; cycles end it.</summary>
        private List<string>? ChainFrom(IMethodSymbol method, Dictionary<IMethodSymbol, List<string>?> chains, HashSet<IMethodSymbol> onPath)
        {
            if (chains.TryGetValue(method, out List<string>? known))
            {
                return known;
            }

            if (!onPath.Add(method) || !_summaries.TryGetValue(method, out MethodSummary? summary))
            {
                return null;
            }

            List<string>? chain = null;
            if (summary.FirstFinding is { } finding)
            {
                chain = [Name(method), finding.Target];
            }
            else
            {
                foreach ((IMethodSymbol callee, _) in summary.Calls.OrderBy(static c => c.Location.SourceSpan.Start))
                {
                    if (ChainFrom(callee, chains, onPath) is { } rest)
                    {
                        chain = [Name(method), .. rest];
                        break;
                    }
                }
            }

            onPath.Remove(method);
            chains[method] = chain;
            return chain;
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
            IInvocationOperation invocation => FindInCall(invocation, owner),
            _ => null,
        };

        private Finding? FindInCall(IInvocationOperation invocation, IMethodSymbol owner)
        {
            IMethodSymbol target = invocation.TargetMethod.ReducedFrom ?? invocation.TargetMethod;
            if (known.IsVmalloc(target))
            {
                return new Finding(Descriptors.VmallocInInterrupt, Name(target), invocation.Syntax.GetLocation(), [Name(target), Name(owner)]);
            }

            foreach (IArgumentOperation argument in invocation.Arguments)
            {
                if (known.IsKernelFlags(argument))
                {
                    bool implicitDefault = argument.ArgumentKind == ArgumentKind.DefaultValue;
                    Location at = (implicitDefault ? invocation.Syntax : argument.Syntax).GetLocation();
                    string how = implicitDefault ? " (the default)"
                        : known.NamesKernel(argument) ? ""
                        : " (flags without GfpFlags.Atomic may sleep)";
                    return new Finding(Descriptors.KernelFlagsInInterrupt, Name(target) + " with GfpFlags.Kernel", at,
                        [Name(target), how, Name(owner)]);
                }
            }

            if (known.IsMaySleep(target))
            {
                return new Finding(Descriptors.MaySleepCallInInterrupt, Name(target), invocation.Syntax.GetLocation(), [Name(target), Name(owner)]);
            }

            if (BlockingApis.IsBlocking(target))
            {
                return Blocking(Name(target), invocation.Syntax.GetLocation(), owner, "");
            }

            return known.IsUserListed(target)
                ? Blocking(Name(target), invocation.Syntax.GetLocation(), owner, $" (listed in {MaySleepMethodsKey})")
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

        private static bool Before(Location a, Location b) =>
            string.CompareOrdinal(a.SourceTree?.FilePath, b.SourceTree?.FilePath) is var file && (file < 0 || (file == 0 && a.SourceSpan.Start < b.SourceSpan.Start));

        private static string Name(ISymbol symbol) => symbol is IMethodSymbol { MethodKind: MethodKind.LocalFunction }
            ? symbol.Name
            : symbol.ContainingType is { } type ? type.Name + "." + symbol.Name : symbol.Name;
    }
}
