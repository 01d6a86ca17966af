// The baseline analyzer: it asks for every method body's operations, of the kinds SlabGen's analyzers ask for, and does
// nothing with them. Building operation trees is Roslyn's work for any operation analyzer (the SDK's default code
// analysis asks for them in every project), so SlabGen's own cost is a run with this analyzer and SlabGen's against a
// run with this one alone. One source, compiled here for the compiler's command line and loaded for in-process runs.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Diagnostics;

namespace SlabGen.Benchmarks.Analyzers;

internal static class NullAnalyzer
{
    private const string Source = """
        using System.Collections.Immutable;
        using Microsoft.CodeAnalysis;
        using Microsoft.CodeAnalysis.Diagnostics;

        [DiagnosticAnalyzer(LanguageNames.CSharp)]
        public sealed class NullOperationAnalyzer : DiagnosticAnalyzer
        {
            private static readonly DiagnosticDescriptor Never = new("NULL001", "never", "never", "none", DiagnosticSeverity.Warning, true); // never reported; a rule the command line would hide makes it skip the analyzer
            public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => ImmutableArray.Create(Never);
            public override void Initialize(AnalysisContext context)
            {
                context.EnableConcurrentExecution();
                context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
                context.RegisterCompilationStartAction(static start =>
                    start.RegisterOperationBlockStartAction(static block =>
                        block.RegisterOperationAction(static _ => { },
                            OperationKind.Invocation, OperationKind.PropertyReference, OperationKind.Lock, OperationKind.ObjectCreation,
                            OperationKind.ArrayCreation, OperationKind.Binary, OperationKind.Unary, OperationKind.Conversion,
                            OperationKind.CompoundAssignment, OperationKind.Increment, OperationKind.Decrement,
                            OperationKind.EventAssignment, OperationKind.Loop, OperationKind.Using, OperationKind.UsingDeclaration,
                            OperationKind.DelegateCreation, OperationKind.InterpolatedString, OperationKind.CollectionExpression, OperationKind.Await)));
            }
        }
        """;

    /// <summary>The analyzer as an assembly image.</summary>
    public static byte[] Image()
    {
        CSharpCompilation compilation = CSharpCompilation.Create("NullOperationAnalyzer",
            [CSharpSyntaxTree.ParseText(Source)],
            [.. SlabGen.Tests.Shared.CompilationReferences.All, MetadataReference.CreateFromFile(typeof(DiagnosticAnalyzer).Assembly.Location)],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, optimizationLevel: OptimizationLevel.Release));
        using var image = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult result = compilation.Emit(image);
        if (!result.Success)
        {
            throw new InvalidOperationException("The baseline analyzer does not compile: " + string.Join("; ", result.Diagnostics));
        }

        return image.ToArray();
    }

    /// <summary>A new instance of the analyzer, from <paramref name="image"/>.</summary>
    public static DiagnosticAnalyzer Load(byte[] image) =>
        (DiagnosticAnalyzer)Activator.CreateInstance(System.Reflection.Assembly.Load(image).GetType("NullOperationAnalyzer")!)!;
}
