// SLAB001: add the missing 'partial' to the struct and to every type around it that lacks it.
using System.Collections.Immutable;
using System.Linq;
using System.Composition;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using SlabGen.Analyzers;

namespace SlabGen.Analyzers.CodeFixes;

/// <summary>Adds <c>partial</c> to a declaration that SLAB001 reports.</summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(AddPartialCodeFix)), Shared]
public sealed class AddPartialCodeFix : CodeFixProvider
{
    /// <inheritdoc/>
    public override ImmutableArray<string> FixableDiagnosticIds { get; } = [RuleIdentifiers.NotPartial];

    /// <inheritdoc/>
    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    /// <inheritdoc/>
    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        SyntaxNode? root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root?.FindToken(context.Span.Start).Parent is not TypeDeclarationSyntax declaration)
        {
            return;
        }

        // The struct and every type around it that is not partial yet.
        var missing = declaration.AncestorsAndSelf().OfType<TypeDeclarationSyntax>()
            .Where(static d => !d.Modifiers.Any(SyntaxKind.PartialKeyword)).ToList();
        if (missing.Count == 0)
        {
            return;
        }

        string title = missing.Count == 1
            ? $"Make '{missing[0].Identifier.ValueText}' partial"
            : $"Make {string.Join(", ", missing.Select(static d => $"'{d.Identifier.ValueText}'"))} partial";
        context.RegisterCodeFix(
            CodeAction.Create(title,
                _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNodes(missing, static (_, rewritten) => AddPartial(rewritten)))),
                equivalenceKey: RuleIdentifiers.NotPartial),
            context.Diagnostics);
    }

    /// <summary>'partial' goes last among the modifiers, right before the keyword.</summary>
    private static TypeDeclarationSyntax AddPartial(TypeDeclarationSyntax declaration)
    {
        if (declaration.Modifiers.Count == 0)
        {
            SyntaxToken keyword = declaration.Keyword;
            return declaration
                .WithKeyword(keyword.WithLeadingTrivia(SyntaxFactory.Space))
                .WithModifiers(SyntaxFactory.TokenList(SyntaxFactory.Token(keyword.LeadingTrivia, SyntaxKind.PartialKeyword, SyntaxFactory.TriviaList())));
        }

        return declaration.AddModifiers(SyntaxFactory.Token(SyntaxKind.PartialKeyword).WithTrailingTrivia(SyntaxFactory.Space));
    }
}
