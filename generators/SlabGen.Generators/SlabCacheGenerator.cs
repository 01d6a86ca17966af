// The [SlabCache] source generator: the incremental pipeline only. Parsing is in Parser.cs, output in Emitter.cs.
// Only equatable models flow through the pipeline, so an edit that does not touch a [SlabCache] struct
// re-runs nothing past the attribute lookup.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace SlabGen.Generators;

/// <summary>Generates a typed slab cache into every well-formed <c>[SlabCache]</c> partial struct.</summary>
[Generator(LanguageNames.CSharp)]
public sealed class SlabCacheGenerator : IIncrementalGenerator
{
    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        IncrementalValuesProvider<CacheModel> models = context.SyntaxProvider
            .ForAttributeWithMetadataName(
                SlabCacheRules.SlabCacheAttribute,
                predicate: static (node, _) => node is StructDeclarationSyntax
                    || (node is RecordDeclarationSyntax record && record.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword)),
                transform: static (context, cancellationToken) => Parser.Parse(context, cancellationToken))
            .WithTrackingName(TrackingNames.Parse)
            .Where(static model => model is not null)
            .Select(static (model, _) => model!)
            .WithTrackingName(TrackingNames.Models);

        context.RegisterSourceOutput(models, static (output, model) => output.AddSource(model.HintName, Emitter.Emit(model)));
    }
}
