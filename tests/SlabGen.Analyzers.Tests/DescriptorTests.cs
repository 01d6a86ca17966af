// Every rule has a page under docs/diagnostics, a help link to it, and a line in the release tracking files.
using System.Reflection;
using System.Runtime.CompilerServices;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;

namespace SlabGen.Analyzers.Tests;

public class DescriptorTests
{
    public static TheoryData<string> Ids => new(AllDescriptors().Select(static d => d.Id));

    [Theory]
    [MemberData(nameof(Ids))]
    public void Every_rule_links_to_its_own_existing_page_and_is_tracked(string id)
    {
        DiagnosticDescriptor descriptor = AllDescriptors().Single(d => d.Id == id);
        string page = Path.Combine(RepositoryRoot(), "docs", "diagnostics", id + ".md");

        Assert.Equal(Descriptors.HelpLink(id), descriptor.HelpLinkUri);
        Assert.True(File.Exists(page), $"{page} is missing");
        string text = File.ReadAllText(page);
        Assert.StartsWith($"# {id}:", text, StringComparison.Ordinal);
        foreach (string section in new[] { "## What it flags", "## Why", "## How to fix", "## How to suppress" })
        {
            Assert.Contains(section, text, StringComparison.Ordinal);
        }

        string releases = File.ReadAllText(Path.Combine(RepositoryRoot(), "analyzers", "SlabGen.Analyzers", "AnalyzerReleases.Unshipped.md"));
        Assert.Contains($"{id} | {descriptor.Category} | {(descriptor.IsEnabledByDefault ? descriptor.DefaultSeverity.ToString() : "Disabled")} |", releases, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Ids))]
    public void Every_rule_says_what_why_and_how_in_its_description_and_every_message_ends_with_its_page(string id)
    {
        DiagnosticDescriptor descriptor = AllDescriptors().Single(d => d.Id == id);
        string description = descriptor.Description.ToString();
        string page = $"docs/diagnostics/{id}.md in the SlabGen package";

        Assert.DoesNotContain(descriptor.Title.ToString(), description);
        Assert.True(description.Length >= 250, $"{id}'s description is {description.Length} characters: say what, why and how to fix");
        Assert.True(description.Split(". ").Length >= 3, $"{id}'s description has fewer than three sentences");
        Assert.EndsWith($"The full page, with examples and how to suppress: {page}.", description, StringComparison.Ordinal);
        Assert.EndsWith($" (rule page: {page})", descriptor.MessageFormat.ToString(), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(RepositoryRoot(), "docs", "diagnostics", id + ".md")));
    }

    [Fact]
    public void The_analyzers_report_every_descriptor_and_ids_are_unique()
    {
        DiagnosticAnalyzer[] analyzers = [new SlabCacheAnalyzer(), new InterruptContextAnalyzer(), new InterruptScopeAnalyzer()];
        var supported = analyzers.SelectMany(static a => a.SupportedDiagnostics).Select(static d => d.Id).ToList();

        Assert.Equal(supported.Count, supported.Distinct().Count());
        Assert.Equal(AllDescriptors().Select(static d => d.Id).Order(), supported.Order());
    }

    private static IEnumerable<DiagnosticDescriptor> AllDescriptors() => typeof(Descriptors)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Where(static f => f.FieldType == typeof(DiagnosticDescriptor))
        .Select(static f => (DiagnosticDescriptor)f.GetValue(null)!);

    private static string RepositoryRoot([CallerFilePath] string path = "") =>
        Path.GetFullPath(Path.Combine(Path.GetDirectoryName(path)!, "..", ".."));
}
