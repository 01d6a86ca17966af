// Turns one [SlabCache] struct into a CacheModel, or into nothing when the struct is misused: the generator
// then stays silent and the analyzer (SLAB0xx) explains. The rules for "well-formed" live in SlabCacheRules so
// the analyzer applies the same ones.
using System;
using System.Collections.Generic;
using System.Globalization;
using System.Linq;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace SlabGen.Generators;

internal static class Parser
{
    private static readonly SymbolDisplayFormat TypeFormat = SymbolDisplayFormat.FullyQualifiedFormat
        .AddMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.IncludeNullableReferenceTypeModifier);

    /// <summary>The struct under the attribute as a model, or null when it is not one the generator can serve.</summary>
    public static CacheModel? Parse(GeneratorAttributeSyntaxContext context, CancellationToken cancellationToken)
    {
        if (context.TargetSymbol is not INamedTypeSymbol type || context.TargetNode is not TypeDeclarationSyntax syntax
            || context.Attributes.Length != 1)
        {
            return null;
        }

        // Two partial parts that both say [SlabCache] are the compiler's CS0579; both would give this file.
        if (SlabCacheRules.SlabCacheAttributeCount(type) != 1)
        {
            return null;
        }

        cancellationToken.ThrowIfCancellationRequested();
        SlabCacheArguments? arguments = SlabCacheArguments.Read(context.Attributes[0]);
        if (arguments is null || !SlabCacheRules.IsWellFormed(type, syntax, arguments))
        {
            return null;
        }

        IMethodSymbol? slabConstructor = SlabCacheRules.SlabConstructors(type).FirstOrDefault();
        return new CacheModel(
            Namespace: type.ContainingNamespace.IsGlobalNamespace ? "" : type.ContainingNamespace.ToDisplayString(),
            ContainingTypes: ContainingTypes(syntax).ToEquatableArray(),
            TypeName: type.Name,
            FullyQualifiedName: type.ToDisplayString(SymbolDisplayFormat.FullyQualifiedFormat),
            IsRecord: type.IsRecord,
            CacheName: arguments.Name ?? SlabCacheRules.DefaultCacheName(type),
            Align: arguments.Align,
            Flags: arguments.Flags,
            Checked: arguments.Checked,
            SlabConstructor: slabConstructor?.Name,
            Constructors: type.InstanceConstructors
                .Where(static c => c.DeclaredAccessibility == Accessibility.Public)
                .Select(static c => new ConstructorModel(c.Parameters.Select(Parameter).ToEquatableArray(), Obsolete(c),
                    c.Parameters.Any(static p => HoldsPointer(p.Type)), c.Parameters.Any(static p => IsOblivious(p.Type))))
                .ToEquatableArray(),
            PrioritizeConstructorOverloads: CanPrioritizeOverloads(context.SemanticModel.Compilation, syntax),
            MarkNotClsCompliant: IsClsChecked(context.SemanticModel.Compilation, type));
    }

    /// <summary>
    /// The constructor's [Obsolete] as C# source for its New and TryNew (so a call warns or fails as calling the
    /// constructor would, and the generated code, which calls it from an obsolete member, does not); null without one.
    /// </summary>
    private static string? Obsolete(IMethodSymbol constructor)
    {
        AttributeData? obsolete = constructor.GetAttributes()
            .FirstOrDefault(static a => a.AttributeClass?.ToDisplayString() == "System.ObsoleteAttribute");
        if (obsolete is null)
        {
            return null;
        }

        var arguments = obsolete.ConstructorArguments.Select(static a => a.Value is null ? "null" : Literal(a.Value)).ToList();
        arguments.AddRange(obsolete.NamedArguments
            .Where(static a => a.Value.Value is string)
            .Select(static a => $"{a.Key} = {Literal(a.Value.Value!)}"));
        return $"[global::System.Obsolete({string.Join(", ", arguments)})]";
    }

    /// <summary>
    /// Whether the compiler checks the struct's public members for CLS compliance: the assembly says
    /// [CLSCompliant(true)] and the struct is visible outside it. The generated members use SlabGen's types, which are
    /// not CLS-compliant, so they are marked [CLSCompliant(false)] then (and only then: on an invisible member the
    /// mark is warning CS3019).
    /// </summary>
    private static bool IsClsChecked(Compilation compilation, INamedTypeSymbol type)
    {
        bool assemblyCompliant = compilation.Assembly.GetAttributes().Any(static a =>
            a.AttributeClass?.ToDisplayString() == "System.CLSCompliantAttribute"
            && a.ConstructorArguments.Length == 1 && a.ConstructorArguments[0].Value is true);
        if (!assemblyCompliant)
        {
            return false;
        }

        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            if (t.DeclaredAccessibility is not (Accessibility.Public or Accessibility.Protected or Accessibility.ProtectedOrInternal))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>C# 13 or later, with OverloadResolutionPriorityAttribute in reach (.NET 9 and later).</summary>
    private static bool CanPrioritizeOverloads(Compilation compilation, TypeDeclarationSyntax syntax) =>
        syntax.SyntaxTree.Options is CSharpParseOptions { LanguageVersion: var version } && (int)version >= 1300
        && compilation.GetTypeByMetadataName("System.Runtime.CompilerServices.OverloadResolutionPriorityAttribute") is { DeclaredAccessibility: Accessibility.Public };

    private static Stack<ContainingType> ContainingTypes(TypeDeclarationSyntax syntax)
    {
        var outerFirst = new Stack<ContainingType>();
        for (SyntaxNode? node = syntax.Parent; node is TypeDeclarationSyntax outer; node = node.Parent)
        {
            string keyword = outer switch
            {
                RecordDeclarationSyntax record when record.ClassOrStructKeyword.IsKind(SyntaxKind.StructKeyword) => "record struct",
                RecordDeclarationSyntax => "record",
                _ => outer.Keyword.ValueText,
            };
            outerFirst.Push(new ContainingType(keyword, outer.Identifier.ValueText));
        }

        return outerFirst;
    }

    /// <summary>Whether <paramref name="type"/> is or holds a pointer or a function pointer (an array of them, say).</summary>
    private static bool HoldsPointer(ITypeSymbol type) => type switch
    {
        IPointerTypeSymbol or IFunctionPointerTypeSymbol => true,
        IArrayTypeSymbol array => HoldsPointer(array.ElementType),
        INamedTypeSymbol named => named.TypeArguments.Any(HoldsPointer),
        _ => false,
    };

    /// <summary>Whether <paramref name="type"/> is a reference type (or holds one) declared where nullable annotations were off.</summary>
    private static bool IsOblivious(ITypeSymbol type) =>
        (type.IsReferenceType && type.NullableAnnotation == NullableAnnotation.None)
        || type switch
        {
            IArrayTypeSymbol array => IsOblivious(array.ElementType),
            INamedTypeSymbol named => named.TypeArguments.Any(IsOblivious),
            _ => false,
        };

    private static ParameterModel Parameter(IParameterSymbol parameter)
    {
        string modifier = parameter.RefKind switch
        {
            RefKind.Ref => "ref ",
            RefKind.Out => "out ",
            RefKind.In => "in ",
            RefKind.RefReadOnlyParameter => "ref readonly ",
            _ => "",
        };
        string name = SyntaxFacts.GetKeywordKind(parameter.Name) != SyntaxKind.None ? "@" + parameter.Name : parameter.Name;
        return new ParameterModel(parameter.Type.ToDisplayString(TypeFormat), name, modifier, parameter.IsParams, DefaultValue(parameter));
    }

    /// <summary>A parameter's default as C# source that means the same anywhere (no names the user's usings bring).</summary>
    private static string? DefaultValue(IParameterSymbol parameter)
    {
        if (!parameter.HasExplicitDefaultValue)
        {
            return null;
        }

        object? value = parameter.ExplicitDefaultValue;
        ITypeSymbol type = parameter.Type;
        if (value is null)
        {
            return type.IsReferenceType || type.OriginalDefinition.SpecialType == SpecialType.System_Nullable_T ? "null" : "default";
        }

        if (type is INamedTypeSymbol { OriginalDefinition.SpecialType: SpecialType.System_Nullable_T } nullable)
        {
            type = nullable.TypeArguments[0];
        }

        string literal = Literal(value);
        return type.TypeKind == TypeKind.Enum ? $"({type.ToDisplayString(TypeFormat)})({literal})" : literal;
    }

    private static string Literal(object value) => value switch
    {
        float f when float.IsNaN(f) => "float.NaN",
        float f when float.IsPositiveInfinity(f) => "float.PositiveInfinity",
        float f when float.IsNegativeInfinity(f) => "float.NegativeInfinity",
        float f => f.ToString("R", CultureInfo.InvariantCulture) + "F",
        double d when double.IsNaN(d) => "double.NaN",
        double d when double.IsPositiveInfinity(d) => "double.PositiveInfinity",
        double d when double.IsNegativeInfinity(d) => "double.NegativeInfinity",
        double d => d.ToString("R", CultureInfo.InvariantCulture) + "D",
        decimal m => m.ToString(CultureInfo.InvariantCulture) + "M",
        long l => l.ToString(CultureInfo.InvariantCulture) + "L",
        ulong ul => ul.ToString(CultureInfo.InvariantCulture) + "UL",
        uint u => u.ToString(CultureInfo.InvariantCulture) + "U",
        bool b => b ? "true" : "false",
        string s => SymbolDisplay.FormatLiteral(s, quote: true),
        char c => SymbolDisplay.FormatLiteral(c, quote: true),
        _ => Convert.ToString(value, CultureInfo.InvariantCulture)!,
    };
}
