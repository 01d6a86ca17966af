// SLAB110 (opt-in): calls into [InterruptContext] code from outside interrupt context and outside a run-time scope are
// reported; calls inside a scope, from interrupt-context code, or of ordinary methods are not; off until enabled.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace SlabGen.Analyzers.Tests;

public class InterruptScopeAnalyzerTests
{
    private const string Usings = "using System; using SlabGen;\n";

    private static Task Check(string source) =>
        Verify.Analyzer<InterruptScopeAnalyzer>(Usings + source, ("dotnet_diagnostic.SLAB110.severity", "warning"));

    [Fact]
    public Task Calls_outside_a_scope_are_reported_and_calls_inside_one_or_from_interrupt_code_are_not() => Check("""
        public interface IRenderer { [InterruptContext] void Render(); }

        [InterruptContext]
        public class Audio { public void Callback() { } }

        public class Game
        {
            [InterruptContext]
            public void Frame() => Step();

            [InterruptContext]
            private void Step() { }

            public void Idle() { }

            public void Loop(IRenderer renderer, Audio audio)
            {
                {|SLAB110:Frame()|};
                {|SLAB110:renderer.Render()|};
                {|SLAB110:audio.Callback()|};
                Idle();
                using (InterruptContext.Enter())
                {
                    Frame();
                    renderer.Render();
                    Action later = () => {|SLAB110:Frame()|};
                }

                {|SLAB110:Frame()|};
                using var scope = InterruptContext.Enter();
                Frame();
                audio.Callback();
            }
        }
        """);

    [Fact]
    public async Task The_rule_is_silent_until_enabled()
    {
        const string source = Usings + """
            public class Game { [InterruptContext] public void Frame() { } public void Loop() => Frame(); }
            """;
        Microsoft.CodeAnalysis.CSharp.CSharpCompilation compilation = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create("Scopes",
            [Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(source)], Verify.References,
            new Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

        async Task<string[]> Ids(Microsoft.CodeAnalysis.CSharp.CSharpCompilation c) => [.. (await c
            .WithAnalyzers([new InterruptScopeAnalyzer()]).GetAnalyzerDiagnosticsAsync()).Select(static d => d.Id)];

        Assert.Empty(await Ids(compilation));
        Assert.Equal(["SLAB110"], await Ids(compilation.WithOptions(compilation.Options.WithSpecificDiagnosticOptions([new("SLAB110", ReportDiagnostic.Warn)]))));
    }
}
