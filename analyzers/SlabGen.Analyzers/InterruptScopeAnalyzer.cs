// SLAB110 (off by default): a call of an [InterruptContext] method from code that is neither in interrupt context nor
// inside an InterruptContext.Enter() scope. [InterruptContext] is a compile-time contract; the run-time check (Kernel
// allocations, Vmalloc and [MaySleep] calls throwing) needs the scope. An entry point called without one is checked at
// compile time only, so what the analysis cannot see (delegates, plugins) may sleep there unnoticed. Turned on, the rule
// keeps the attribute and the scope in step: every call into interrupt-context code from outside opens a scope.
using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>Reports calls into <c>[InterruptContext]</c> methods from outside interrupt context and outside a run-time scope.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class InterruptScopeAnalyzer : DiagnosticAnalyzer
{
    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = [Descriptors.InterruptMethodOutsideScope];

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            var known = KnownSymbols.Create(start.Compilation, start.Options, start.CancellationToken);
            if (known is null)
            {
                return;
            }

            start.RegisterOperationAction(context => Analyze(context, known), OperationKind.Invocation);
        });
    }

    private static void Analyze(OperationAnalysisContext context, KnownSymbols known)
    {
        var invocation = (IInvocationOperation)context.Operation;
        IMethodSymbol target = invocation.TargetMethod;
        if (!known.IsInterruptContext(target.OriginalDefinition) || known.IsInterruptContext(context.ContainingSymbol)
            || EnterScopes.Contains(invocation, known))
        {
            return;
        }

        context.ReportDiagnostic(Diagnostic.Create(Descriptors.InterruptMethodOutsideScope, invocation.Syntax.GetLocation(),
            target.Name, context.ContainingSymbol.Name));
    }
}
