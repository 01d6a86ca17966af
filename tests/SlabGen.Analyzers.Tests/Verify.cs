// The analyzer and code-fix test setup: the running framework's assemblies plus SlabGen itself, and the expected
// diagnostics written inline in the source ({|SLAB101:…|}). The framework comes from this process rather than a
// NuGet reference pack: the testing library's NuGet cannot resolve net10.0 packs ("not supported by this version").
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Testing;

namespace SlabGen.Analyzers.Tests;

internal static class Verify
{
    /// <summary>No reference pack: the references are <see cref="References"/>.</summary>
    public static readonly ReferenceAssemblies Net10 = new("net10.0");

    /// <summary>The running framework's assemblies and SlabGen.</summary>
    public static MetadataReference[] References => SlabGen.Tests.Shared.CompilationReferences.All;

    /// <summary>The rules of InterruptContextAnalyzer about code that may sleep (and the opt-in SLAB108/109).</summary>
    public static readonly string[] SleepRules = ["SLAB101", "SLAB102", "SLAB103", "SLAB104", "SLAB105", "SLAB108", "SLAB109"];

    /// <summary>InterruptContextAnalyzer's managed-allocation rule.</summary>
    public static readonly string[] AllocationRules = ["SLAB107"];

    /// <summary>InterruptContextAnalyzer's await rule.</summary>
    public static readonly string[] AwaitRules = ["SLAB106"];

    /// <summary>Checks the diagnostics marked inline in <paramref name="source"/> of InterruptContextAnalyzer's <paramref name="rules"/> only (the others disabled).</summary>
    public static Task Rules(string[] rules, string source, params (string Key, string Value)[] editorConfig) =>
        Run<InterruptContextAnalyzer>(source, editorConfig, [], rules);

    /// <summary>Checks <paramref name="expected"/> against the diagnostics of InterruptContextAnalyzer's <paramref name="rules"/> only.</summary>
    public static Task RulesExpecting(string[] rules, string source, params DiagnosticResult[] expected) =>
        Run<InterruptContextAnalyzer>(source, [], expected, rules);

    /// <summary>Disables every rule of InterruptContextAnalyzer but <paramref name="rules"/> in <paramref name="test"/>.</summary>
    public static void Only(AnalyzerTest<DefaultVerifier> test, string[] rules) =>
        test.DisabledDiagnostics.AddRange(new InterruptContextAnalyzer().SupportedDiagnostics.Select(static d => d.Id).Except(rules));

    /// <summary>Checks the diagnostics marked inline in <paramref name="source"/>, with optional global analyzer config.</summary>
    public static Task Analyzer<TAnalyzer>(string source, params (string Key, string Value)[] editorConfig)
        where TAnalyzer : DiagnosticAnalyzer, new() => Run<TAnalyzer>(source, editorConfig, [], null);

    /// <summary>Checks <paramref name="expected"/> (messages and all) against the diagnostics of <paramref name="source"/>, whose locations are marked {|#n:…|}.</summary>
    public static Task AnalyzerExpecting<TAnalyzer>(string source, params DiagnosticResult[] expected)
        where TAnalyzer : DiagnosticAnalyzer, new() => Run<TAnalyzer>(source, [], expected, null);

    /// <summary>One analyzer test: <paramref name="source"/>, its config, the diagnostics expected beside the inline marks, and the rules kept (null: all).</summary>
    private static async Task Run<TAnalyzer>(string source, (string Key, string Value)[] editorConfig, DiagnosticResult[] expected, string[]? rules)
        where TAnalyzer : DiagnosticAnalyzer, new()
    {
        var test = new CSharpAnalyzerTest<TAnalyzer, DefaultVerifier> { TestCode = source };
        test.ExpectedDiagnostics.AddRange(expected);
        Configure(test.TestState, editorConfig);
        if (rules is not null)
        {
            Only(test, rules);
        }

        await test.RunAsync();
    }

    /// <summary>An expected diagnostic of <paramref name="descriptor"/>.</summary>
    public static DiagnosticResult Diagnostic(DiagnosticDescriptor descriptor) => new(descriptor);

    public static async Task CodeFix<TAnalyzer, TFix>(string source, string fixedSource)
        where TAnalyzer : DiagnosticAnalyzer, new()
        where TFix : CodeFixProvider, new()
    {
        var test = new CSharpCodeFixTest<TAnalyzer, TFix, DefaultVerifier> { TestCode = source, FixedCode = fixedSource };
        Configure(test.TestState, []);
        Configure(test.FixedState, []);
        await test.RunAsync();
    }

    private static void Configure(SolutionState state, (string Key, string Value)[] editorConfig)
    {
        state.ReferenceAssemblies = Net10;
        state.AdditionalReferences.AddRange(References);
        if (editorConfig.Length != 0)
        {
            state.AnalyzerConfigFiles.Add(("/.globalconfig",
                "is_global = true\n" + string.Join("\n", editorConfig.Select(static e => $"{e.Key} = {e.Value}"))));
        }
    }
}
