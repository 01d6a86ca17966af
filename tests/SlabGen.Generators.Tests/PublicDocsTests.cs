// IntelliSense for every public member of the runtime: read back through Roslyn from SlabGen.dll and its XML doc
// file, as an IDE reads them. Each public or protected member has a summary (or inheritdoc), a <param> for each
// parameter, <typeparam> for each type parameter and <returns> for a method that returns something, and no section
// garbled by an edit (a section inside another, "///" or escaped-tag debris in the text).
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using System.Xml.Linq;

namespace SlabGen.Generators.Tests;

public class PublicDocsTests
{
    [Fact]
    public void Every_public_member_documents_its_parameters_and_results()
    {
        string dll = typeof(SlabCacheAttribute).Assembly.Location;
        string xml = Path.ChangeExtension(dll, ".xml");
        Assert.True(File.Exists(xml), $"{xml}: the runtime's XML doc file is missing");
        MetadataReference runtime = MetadataReference.CreateFromFile(dll, documentation: new XmlDocs(xml));
        CSharpCompilation compilation = CSharpCompilation.Create("Docs", [], [.. SlabGen.Tests.Shared.CompilationReferences.All.Where(r => r.Display != dll), runtime]);
        var assembly = (IAssemblySymbol)compilation.GetAssemblyOrModuleSymbol(runtime)!;

        var problems = new List<string>();
        foreach (INamedTypeSymbol type in Types(assembly.GlobalNamespace).Where(Visible))
        {
            Check(type, problems);
            foreach (ISymbol member in type.GetMembers().Where(m => Visible(m) && !m.IsImplicitlyDeclared))
            {
                if (member is IMethodSymbol { MethodKind: MethodKind.PropertyGet or MethodKind.PropertySet or MethodKind.EventAdd or MethodKind.EventRemove })
                {
                    continue;
                }

                // What the compiler writes (a record's Equals and Deconstruct, a delegate's Invoke, a default
                // constructor) has nothing of ours to document.
                if (member is IMethodSymbol { MethodKind: MethodKind.Constructor, Parameters.Length: 0 }
                    || type.TypeKind == TypeKind.Delegate
                    || member.GetAttributes().Any(static a => a.AttributeClass?.Name == "CompilerGeneratedAttribute"))
                {
                    continue;
                }

                Check(member, problems);
            }
        }

        Assert.True(problems.Count == 0, $"{problems.Count} public members lack docs:\n{string.Join("\n", problems)}");
    }

    [Fact]
    public void The_XML_doc_file_holds_the_public_surface_only()
    {
        // build/StripInternalDocs.targets removes what users cannot reach; Roslyn, seeing internals too, checks it did.
        string dll = typeof(SlabCacheAttribute).Assembly.Location;
        MetadataReference runtime = MetadataReference.CreateFromFile(dll);
        CSharpCompilation compilation = CSharpCompilation.Create("Docs", [], [.. SlabGen.Tests.Shared.CompilationReferences.All.Where(r => r.Display != dll), runtime],
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary).WithMetadataImportOptions(MetadataImportOptions.All));
        string[] ids = [.. XDocument.Load(Path.ChangeExtension(dll, ".xml")).Root!.Element("members")!.Elements("member").Select(static m => (string)m.Attribute("name")!)];

        // The compiler writes a function pointer parameter as nothing ("…,SlabFlags,,PageAllocator)"), which no symbol
        // lookup resolves: those ids are the public Create overloads with a constructor pointer, and are taken as written.
        string[] notVisible = [.. ids.Where(id => DocumentationCommentId.GetFirstSymbolForDeclarationId(id, compilation) is { } symbol
            ? !Visible(symbol) : !(id.Contains(",,", StringComparison.Ordinal) || id.Contains(",)", StringComparison.Ordinal)))];

        Assert.True(ids.Length > 150, $"only {ids.Length} members documented");
        Assert.True(notVisible.Length == 0, $"the XML doc file documents members users cannot reach:\n{string.Join("\n", notVisible)}");
        var assembly = (IAssemblySymbol)compilation.GetAssemblyOrModuleSymbol(runtime)!;
        Assert.Contains(Types(assembly.GlobalNamespace), static t => !Visible(t));   // the check sees internals at all
    }

    private static void Check(ISymbol symbol, List<string> problems)
    {
        string id = symbol.GetDocumentationCommentId() ?? symbol.ToDisplayString();
        string? text = symbol.GetDocumentationCommentXml();
        if (string.IsNullOrWhiteSpace(text))
        {
            problems.Add($"{id}: no documentation");
            return;
        }

        XElement doc = XElement.Parse(text);
        if (doc.Element("inheritdoc") is not null)
        {
            return;
        }

        if (doc.Element("summary") is null)
        {
            problems.Add($"{id}: no <summary>");
        }

        // Well formed in meaning, not only as XML: a section never holds another section, and no comment marker or
        // escaped-tag debris ("///", "lt;" without its "&") is left in the text.
        string[] sections = ["summary", "returns", "param", "typeparam", "remarks", "exception", "value"];
        foreach (XElement section in doc.Elements().Where(e => sections.Contains(e.Name.LocalName)))
        {
            if (section.Descendants().Any(d => sections.Contains(d.Name.LocalName)))
            {
                problems.Add($"{id}: <{section.Name.LocalName}> holds another doc section (a garbled comment)");
            }

            string words = section.Value;
            if (words.Contains("///", StringComparison.Ordinal) || System.Text.RegularExpressions.Regex.IsMatch(words, @"(?<!&)\b(lt|gt|amp);"))
            {
                problems.Add($"{id}: <{section.Name.LocalName}> has comment debris in its text: {words.Trim()}");
            }
        }

        IEnumerable<string> documented = doc.Elements("param").Select(static p => (string?)p.Attribute("name") ?? "");
        IEnumerable<IParameterSymbol> parameters = symbol switch
        {
            IMethodSymbol method => method.Parameters,
            IPropertySymbol property => property.Parameters,
            INamedTypeSymbol { DelegateInvokeMethod: { } invoke } => invoke.Parameters,
            _ => [],
        };
        foreach (IParameterSymbol parameter in parameters.Where(p => !documented.Contains(p.Name)))
        {
            problems.Add($"{id}: no <param name=\"{parameter.Name}\">");
        }

        IEnumerable<ITypeParameterSymbol> typeParameters = symbol switch
        {
            IMethodSymbol method => method.TypeParameters,
            INamedTypeSymbol named => named.TypeParameters,
            _ => [],
        };
        foreach (ITypeParameterSymbol typeParameter in typeParameters.Where(t => !doc.Elements("typeparam").Any(e => (string?)e.Attribute("name") == t.Name)))
        {
            problems.Add($"{id}: no <typeparam name=\"{typeParameter.Name}\">");
        }

        if (symbol is IMethodSymbol { ReturnsVoid: false, MethodKind: MethodKind.Ordinary } && doc.Element("returns") is null)
        {
            problems.Add($"{id}: no <returns>");
        }
    }

    private static bool Visible(ISymbol symbol)
    {
        for (ISymbol? s = symbol; s is not null and not INamespaceSymbol; s = s.ContainingSymbol)
        {
            if (s.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Protected or Accessibility.ProtectedOrInternal))
            {
                return false;
            }
        }

        return true;
    }

    private static IEnumerable<INamedTypeSymbol> Types(INamespaceSymbol ns)
    {
        foreach (INamedTypeSymbol type in ns.GetTypeMembers().SelectMany(Nested))
        {
            yield return type;
        }

        foreach (INamespaceSymbol inner in ns.GetNamespaceMembers())
        {
            foreach (INamedTypeSymbol type in Types(inner))
            {
                yield return type;
            }
        }
    }

    private static IEnumerable<INamedTypeSymbol> Nested(INamedTypeSymbol type) => [type, .. type.GetTypeMembers().SelectMany(Nested)];

    /// <summary>The XML doc file as Roslyn's documentation provider: member id to its element's text.</summary>
    private sealed class XmlDocs(string path) : DocumentationProvider
    {
        private readonly Dictionary<string, string> _members = XDocument.Load(path).Root!.Element("members")!.Elements("member")
            .GroupBy(static m => (string)m.Attribute("name")!)
            .ToDictionary(static g => g.Key, static g => g.First().ToString());

        protected override string? GetDocumentationForSymbol(string documentationMemberID, System.Globalization.CultureInfo preferredCulture, CancellationToken cancellationToken = default) =>
            _members.GetValueOrDefault(documentationMemberID);

        public override bool Equals(object? obj) => obj is XmlDocs other && ReferenceEquals(_members, other._members);

        public override int GetHashCode() => _members.GetHashCode();
    }
}
