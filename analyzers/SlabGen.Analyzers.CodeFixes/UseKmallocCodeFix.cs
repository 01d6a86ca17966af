// SLAB101: a small constant-size Vmalloc/Vzalloc/Kvmalloc in interrupt context becomes Kmalloc/Kzalloc with
// GfpFlags.Atomic. Kmalloc memory is freed with Kfree, so when the result initialises a local, the member's
// Vfree/Kvfree of that local become Kfree; when it goes anywhere else (a field, an argument), no fix is offered.
using System.Collections.Immutable;
using System.Composition;
using System.Linq;
using System.Threading;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Simplification;
using SlabGen.Analyzers;

namespace SlabGen.Analyzers.CodeFixes;

/// <summary>Turns a small constant-size vmalloc in interrupt context into an atomic kmalloc.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(UseKmallocCodeFix)), Shared]
public sealed class UseKmallocCodeFix : CodeFixProvider
{
    /// <summary>The largest kmalloc size class: above it, kmalloc takes whole pages and is no longer "small".</summary>
    private const long MaxSmallSize = Contract.KmallocMaxCacheSize;

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = [RuleIdentifiers.VmallocInInterrupt];

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        SemanticModel? model = await context.Document.GetSemanticModelAsync(context.CancellationToken).ConfigureAwait(false);
        if (root?.FindNode(context.Span, getInnermostNodeForTie: true).FirstAncestorOrSelf<InvocationExpressionSyntax>() is not { } invocation
            || model is null
            || model.GetSymbolInfo(invocation, context.CancellationToken).Symbol is not IMethodSymbol method
            || invocation.ArgumentList.Arguments.FirstOrDefault() is not { } size
            || model.GetConstantValue(size.Expression, context.CancellationToken) is not { HasValue: true, Value: { } value }
            || System.Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) is < 0 or > MaxSmallSize
            || !AllocationGoesToLocal(invocation, model, context.CancellationToken, out ILocalSymbol? local))
        {
            return;
        }

        string replacement = method.Name == "Vzalloc" ? "Kzalloc" : "Kmalloc";
        context.RegisterCodeFix(
            CodeAction.Create($"Use Kmem.{replacement}(…, GfpFlags.Atomic)",
                token => FixAsync(context.Document, invocation, size, replacement, local, token),
                equivalenceKey: RuleIdentifiers.VmallocInInterrupt),
            context.Diagnostics);
    }

    /// <summary>The allocation initialises a local (whose Vfree/Kvfree calls in this member become Kfree) or is discarded.</summary>
    private static bool AllocationGoesToLocal(InvocationExpressionSyntax invocation, SemanticModel model, CancellationToken cancellationToken, out ILocalSymbol? local)
    {
        local = null;
        SyntaxNode? parent = invocation.Parent is CastExpressionSyntax cast ? cast.Parent : invocation.Parent;
        if (parent is EqualsValueClauseSyntax { Parent: VariableDeclaratorSyntax declarator })
        {
            local = model.GetDeclaredSymbol(declarator, cancellationToken) as ILocalSymbol;
            return local is not null;
        }

        return parent is ExpressionStatementSyntax;
    }

    private static async Task<Document> FixAsync(Document document, InvocationExpressionSyntax invocation, ArgumentSyntax size,
        string replacement, ILocalSymbol? local, CancellationToken cancellationToken)
    {
        SyntaxNode root = (await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false))!;
        SemanticModel model = (await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false))!;
        SyntaxNode body = invocation.FirstAncestorOrSelf<MemberDeclarationSyntax>() ?? root;
        var frees = local is null
            ? []
            : body.DescendantNodes().OfType<InvocationExpressionSyntax>()
                .Where(call => model.GetSymbolInfo(call, cancellationToken).Symbol is IMethodSymbol { Name: "Vfree" or "Kvfree", ContainingType.Name: "Kmem" }
                    && call.ArgumentList.Arguments.Count == 1
                    && model.GetSymbolInfo(Uncast(call.ArgumentList.Arguments[0].Expression), cancellationToken).Symbol is ILocalSymbol freed
                    && SymbolEqualityComparer.Default.Equals(freed, local))
                .ToList();

        ExpressionSyntax kmalloc = Simplifiable($"global::SlabGen.Kmem.{replacement}({size.Expression}, global::SlabGen.GfpFlags.Atomic)")
            .WithTriviaFrom(invocation);
        SyntaxNode fixedBody = body.ReplaceNodes(frees.Cast<SyntaxNode>().Append(invocation), (original, _) => original == invocation
            ? kmalloc
            : Simplifiable($"global::SlabGen.Kmem.Kfree({((InvocationExpressionSyntax)original).ArgumentList.Arguments[0].Expression})")
                .WithTriviaFrom(original));
        return document.WithSyntaxRoot(root.ReplaceNode(body, fixedBody));
    }

    /// <summary>Fully qualified source whose names the simplifier shortens where the usings allow.</summary>
    private static ExpressionSyntax Simplifiable(string source)
    {
        ExpressionSyntax expression = SyntaxFactory.ParseExpression(source);
        return expression.ReplaceNodes(expression.DescendantNodesAndSelf().OfType<MemberAccessExpressionSyntax>(),
            static (_, rewritten) => rewritten.WithAdditionalAnnotations(Simplifier.Annotation));
    }

    private static ExpressionSyntax Uncast(ExpressionSyntax expression) => expression is CastExpressionSyntax cast ? Uncast(cast.Expression) : expression;
}
