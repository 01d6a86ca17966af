// SLAB102: GfpFlags.Kernel in interrupt context becomes GfpFlags.Atomic: each Kernel in an explicit argument is
// replaced (other flags such as Zero stay), flags that may sleep without naming Kernel (GfpFlags.Zero alone) get
// Atomic added, and a defaulted argument is written out as flags: GfpFlags.Atomic.
using System;
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
using Microsoft.CodeAnalysis.Operations;
using Microsoft.CodeAnalysis.Simplification;
using SlabGen.Analyzers;

namespace SlabGen.Analyzers.CodeFixes;

/// <summary>Replaces <c>GfpFlags.Kernel</c> with <c>GfpFlags.Atomic</c> where SLAB102 reports it.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(UseAtomicCodeFix)), Shared]
public sealed class UseAtomicCodeFix : CodeFixProvider
{
    private static readonly ExpressionSyntax Atomic = SyntaxFactory.ParseExpression("global::" + Contract.GfpFlags + "." + Contract.AtomicFlag)
        .WithAdditionalAnnotations(Simplifier.Annotation);

    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = [RuleIdentifiers.KernelFlagsInInterrupt];

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        SyntaxNode? node = root?.FindNode(context.Span, getInnermostNodeForTie: true);
        if (node is null)
        {
            return;
        }

        context.RegisterCodeFix(
            CodeAction.Create("Use GfpFlags.Atomic", token => FixAsync(context.Document, node, token), equivalenceKey: RuleIdentifiers.KernelFlagsInInterrupt),
            context.Diagnostics);
    }

    private static async Task<Document> FixAsync(Document document, SyntaxNode node, CancellationToken cancellationToken)
    {
        SyntaxNode root = (await document.GetSyntaxRootAsync(cancellationToken).ConfigureAwait(false))!;
        SemanticModel model = (await document.GetSemanticModelAsync(cancellationToken).ConfigureAwait(false))!;
        if (node.FirstAncestorOrSelf<ArgumentSyntax>() is { } argument)
        {
            var kernels = argument.Expression.DescendantNodesAndSelf().OfType<MemberAccessExpressionSyntax>()
                .Where(m => model.GetSymbolInfo(m, cancellationToken).Symbol is IFieldSymbol { Name: "Kernel", ContainingType.Name: "GfpFlags" })
                .ToList();
            SyntaxNode fixedArgument = kernels.Count != 0
                ? argument.ReplaceNodes(kernels, (original, _) => Atomic.WithTriviaFrom(original))
                : argument.WithExpression(WithAtomic(argument.Expression, model, cancellationToken));
            return document.WithSyntaxRoot(root.ReplaceNode(argument, fixedArgument));
        }

        if (node.FirstAncestorOrSelf<InvocationExpressionSyntax>() is { } invocation
            && model.GetOperation(invocation, cancellationToken) is IInvocationOperation operation
            && operation.Arguments.FirstOrDefault(a => a.ArgumentKind == ArgumentKind.DefaultValue && a.Parameter?.Type.Name == "GfpFlags") is { Parameter: { } parameter })
        {
            ArgumentSyntax named = SyntaxFactory.Argument(Atomic)
                .WithNameColon(SyntaxFactory.NameColon(SyntaxFactory.IdentifierName(parameter.Name)));
            return document.WithSyntaxRoot(root.ReplaceNode(invocation, invocation.AddArgumentListArguments(named)));
        }

        return document;
    }

    /// <summary>Flags that never name Kernel (Zero alone, none) with Atomic added: <c>GfpFlags.Atomic | GfpFlags.Zero</c>.</summary>
    private static ExpressionSyntax WithAtomic(ExpressionSyntax flags, SemanticModel model, CancellationToken cancellationToken)
    {
        if (model.GetConstantValue(flags, cancellationToken) is { HasValue: true, Value: { } value } && Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture) == 0)
        {
            return Atomic.WithTriviaFrom(flags);
        }

        ExpressionSyntax operand = flags is MemberAccessExpressionSyntax or IdentifierNameSyntax or ParenthesizedExpressionSyntax
            ? flags.WithoutTrivia()
            : SyntaxFactory.ParenthesizedExpression(flags.WithoutTrivia());
        return SyntaxFactory.BinaryExpression(SyntaxKind.BitwiseOrExpression, Atomic, operand).WithTriviaFrom(flags);
    }
}
