// SLAB0xx: a [SlabCache] struct the generator cannot serve, with the reason and its location. The checks are
// SlabCacheRules (shared with the generator), plus what only an analyzer can say: layout, and duplicate names.
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;
using Microsoft.CodeAnalysis.Diagnostics;
using SlabGen.Generators;

namespace SlabGen.Analyzers;

/// <summary>Reports misuse of <c>[SlabCache]</c> and <c>[SlabConstructor]</c>.</summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class SlabCacheAnalyzer : DiagnosticAnalyzer
{
    /// <summary>The largest object a slab of order 10 holds.</summary>
    private const long MaxObjectSize = Contract.MaxSlabBytes;

    /// <inheritdoc/>
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } =
    [
        Descriptors.NotPartial, Descriptors.NotUnmanaged, Descriptors.Generic, Descriptors.InvalidAlign,
        Descriptors.AlignBelowNatural, Descriptors.SlabConstructorShape, Descriptors.SeveralSlabConstructors,
        Descriptors.TooLargeForSlab, Descriptors.InvalidName, Descriptors.DuplicateName, Descriptors.RefStruct,
        Descriptors.MemberClash, Descriptors.RequiredMember, Descriptors.FileLocal,
    ];

    /// <inheritdoc/>
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterCompilationStartAction(static start =>
        {
            INamedTypeSymbol? slabCache = start.Compilation.GetTypeByMetadataName(SlabCacheRules.SlabCacheAttribute);
            if (slabCache is null)
            {
                return;
            }

            var names = new ConcurrentDictionary<string, ConcurrentBag<(INamedTypeSymbol Type, Location Location)>>();
            start.RegisterSymbolAction(symbol => AnalyzeType(symbol, slabCache, names), SymbolKind.NamedType);
            start.RegisterCompilationEndAction(end => ReportDuplicateNames(end, names));
        });
    }

    private static void AnalyzeType(SymbolAnalysisContext context, INamedTypeSymbol slabCache,
        ConcurrentDictionary<string, ConcurrentBag<(INamedTypeSymbol, Location)>> names)
    {
        var type = (INamedTypeSymbol)context.Symbol;
        AttributeData? attribute = type.GetAttributes().FirstOrDefault(a => SymbolEqualityComparer.Default.Equals(a.AttributeClass, slabCache));
        if (attribute?.ApplicationSyntaxReference?.GetSyntax(context.CancellationToken) is not AttributeSyntax attributeSyntax
            || attributeSyntax.FirstAncestorOrSelf<TypeDeclarationSyntax>() is not { } declaration
            || type.TypeKind != TypeKind.Struct)
        {
            return; // not a struct: the compiler's CS0592 already says [SlabCache] is valid on structs only
        }

        Location where = declaration.Identifier.GetLocation();
        if (!declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.NotPartial, where, type.Name, ""));
        }
        else if (declaration.Ancestors().OfType<TypeDeclarationSyntax>().FirstOrDefault(static d => !d.Modifiers.Any(SyntaxKind.PartialKeyword)) is { } container)
        {
            // At the struct, so every struct in a container gets its own; the code fix makes the containers partial.
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.NotPartial, where, container.Identifier.ValueText, $" (it contains '{type.Name}')"));
        }

        if (SlabCacheRules.IsFileLocal(type))
        {
            string suffix = type.IsFileLocal ? "" : " (inside a file-local type)";
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.FileLocal, where, type.Name, suffix));
        }

        if (SlabCacheRules.RequiredMember(type) is { } required)
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.RequiredMember, required.Locations.FirstOrDefault(static l => l.IsInSource) ?? where, type.Name, required.Name));
        }

        if (SlabCacheRules.ClashingMember(type) is { } clash)
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.MemberClash, clash.Locations.FirstOrDefault(static l => l.IsInSource) ?? where, type.Name, clash.Name));
        }

        if (type.IsRefLikeType)
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.RefStruct, where, type.Name));
        }

        if (SlabCacheRules.IsGenericOrInGeneric(type))
        {
            string suffix = type.TypeParameters.Length != 0 ? "" : $" (nested in generic '{GenericContainer(type)!.Name}')";
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.Generic, where, type.Name, suffix));
        }
        else if (!type.IsRefLikeType && !type.IsUnmanagedType)
        {
            // Every field that keeps the struct out of a slab, each at its own declaration.
            var fields = new List<(string Path, ITypeSymbol Type, Location? Location)>();
            ReferenceFields(type, "", null, new HashSet<ITypeSymbol>(SymbolEqualityComparer.Default), fields);
            foreach ((string path, ITypeSymbol fieldType, Location? location) in fields)
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.NotUnmanaged, location ?? where, type.Name, path, fieldType));
            }
        }

        SlabCacheArguments? arguments = SlabCacheArguments.Read(attribute);
        if (arguments is not null)
        {
            CheckArguments(context, type, attributeSyntax, arguments, where, names);
        }

        CheckSlabConstructors(context, type);
        long size = StructLayoutEstimate.SizeLowerBound(type);
        if (size > MaxObjectSize)
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.TooLargeForSlab, where, type.Name, size));
        }
    }

    private static INamedTypeSymbol? GenericContainer(INamedTypeSymbol type)
    {
        for (INamedTypeSymbol? t = type.ContainingType; t is not null; t = t.ContainingType)
        {
            if (t.TypeParameters.Length != 0)
            {
                return t;
            }
        }

        return null;
    }

    /// <summary>
    /// Adds to <paramref name="found"/> every field, directly or through nested structs, whose type is a reference
    /// type, with the location of the top-level field that holds it (<paramref name="at"/> once nested).
    /// </summary>
    private static void ReferenceFields(INamedTypeSymbol type, string prefix, Location? at, HashSet<ITypeSymbol> seen,
        List<(string Path, ITypeSymbol Type, Location? Location)> found)
    {
        if (!seen.Add(type))
        {
            return;
        }

        foreach (IFieldSymbol field in StructLayoutEstimate.InstanceFields(type))
        {
            string name = prefix + (field.AssociatedSymbol?.Name ?? field.Name);
            Location? location = at ?? (field.AssociatedSymbol ?? field).Locations.FirstOrDefault(static l => l.IsInSource);
            if (field.Type.IsReferenceType || field.Type.TypeKind == TypeKind.TypeParameter && !field.Type.IsUnmanagedType)
            {
                found.Add((name, field.Type, location));
            }
            else if (field.Type is INamedTypeSymbol { TypeKind: TypeKind.Struct, IsUnmanagedType: false } nested)
            {
                ReferenceFields(nested, name + ".", location, seen, found);
            }
        }

        seen.Remove(type); // a struct used by two fields is reported under each
    }

    private static void CheckArguments(SymbolAnalysisContext context, INamedTypeSymbol type, AttributeSyntax attribute,
        SlabCacheArguments arguments, Location where, ConcurrentDictionary<string, ConcurrentBag<(INamedTypeSymbol, Location)>> names)
    {
        Location ArgumentLocation(string name) => attribute.ArgumentList?.Arguments
            .FirstOrDefault(a => a.NameEquals?.Name.Identifier.ValueText == name)?.GetLocation() ?? where;

        if (!SlabCacheRules.IsValidAlign(arguments.Align))
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.InvalidAlign, ArgumentLocation("Align"), arguments.Align));
        }
        else if (arguments.Align != 0 && StructLayoutEstimate.NaturalAlignment(type) is var natural && arguments.Align < natural)
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.AlignBelowNatural, ArgumentLocation("Align"),
                arguments.Align, type.Name, natural));
        }

        if (arguments.Name is { Length: 0 })
        {
            context.ReportDiagnostic(Diagnostic.Create(Descriptors.InvalidName, ArgumentLocation("Name")));
        }
        else
        {
            string name = arguments.Name ?? SlabCacheRules.DefaultCacheName(type);
            names.GetOrAdd(name, static _ => []).Add((type, arguments.Name is null ? where : ArgumentLocation("Name")));
        }
    }

    private static void CheckSlabConstructors(SymbolAnalysisContext context, INamedTypeSymbol type)
    {
        List<IMethodSymbol> constructors = SlabCacheRules.SlabConstructors(type).ToList();
        for (int i = 0; i < constructors.Count; i++)
        {
            IMethodSymbol method = constructors[i];
            Location location = method.Locations.FirstOrDefault() ?? Location.None;
            if (!SlabCacheRules.IsSlabConstructorShape(method, type))
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.SlabConstructorShape, location, method.Name, type.Name));
            }

            if (i > 0)
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.SeveralSlabConstructors, location, type.Name, method.Name));
            }
        }
    }

    private static void ReportDuplicateNames(CompilationAnalysisContext context,
        ConcurrentDictionary<string, ConcurrentBag<(INamedTypeSymbol Type, Location Location)>> names)
    {
        foreach (KeyValuePair<string, ConcurrentBag<(INamedTypeSymbol Type, Location Location)>> entry in names)
        {
            var users = entry.Value.OrderBy(static u => u.Type.ToDisplayString(), System.StringComparer.Ordinal).ToList();
            for (int i = 1; i < users.Count; i++)
            {
                context.ReportDiagnostic(Diagnostic.Create(Descriptors.DuplicateName, users[i].Location, entry.Key, users[0].Type.ToDisplayString()));
            }
        }
    }
}
