// SLAB106: an await in interrupt context. Interrupt context is a property of the thread (a depth word the run-time
// check reads), and it never flows into tasks or across an await: the code after an await may resume on another
// thread, outside the context, and the scope it leaves would be disposed there. Reported for every await (await,
// await foreach, await using) in a method that is in interrupt context ([InterruptContext] on it or its type,
// lambdas and local functions inside included, as for SLAB101-105) and inside a run-time scope: the body of
// `using (InterruptContext.Enter())` or what follows `using var scope = InterruptContext.Enter();` in its block.
// A lambda or local function written inside a scope is not in the scope (it runs whenever it is called).
// What it cannot see: a scope entered without a using and disposed by hand.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace SlabGen.Analyzers;

/// <summary>Finds <c>await</c> in interrupt-context code and inside <c>InterruptContext.Enter()</c> scopes.</summary>
internal static class Awaits
{
    /// <summary>Reports <paramref name="context"/>'s operation when it awaits in interrupt-context code (<paramref name="block"/>'s member) or in a scope.</summary>
    public static void Analyze(OperationAnalysisContext context, CallGraph.Block block, KnownSymbols known)
    {
        IOperation operation = context.Operation;
        string? what = operation switch
        {
            IAwaitOperation => "await",
            IForEachLoopOperation { IsAsynchronous: true } => "await foreach",
            IUsingOperation { IsAsynchronous: true } => "await using",
            IUsingDeclarationOperation { IsAsynchronous: true } => "await using",
            _ => null,
        };
        if (what is null)
        {
            return;
        }

        string? where = block.Interrupt
            ? $"interrupt-context code ('{block.Owner.Name}')"
            : EnterScopes.Contains(operation, known) ? "an InterruptContext.Enter() scope" : null;
        if (where is not null)
        {
            Location location = operation is IAwaitOperation ? operation.Syntax.GetLocation() : AwaitKeyword(operation);
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.AwaitInInterrupt, location, what, where));
        }
    }

    /// <summary>The <c>await</c> keyword of an await foreach / await using, else the operation's first line.</summary>
    private static Location AwaitKeyword(IOperation operation)
    {
        SyntaxToken first = operation.Syntax.GetFirstToken();
        for (SyntaxToken token = first; token != default && token.SpanStart < operation.Syntax.Span.End; token = token.GetNextToken())
        {
            if (token.Text == "await")
            {
                return token.GetLocation();
            }
        }

        return Location.Create(operation.Syntax.SyntaxTree, first.Span);
    }
}
