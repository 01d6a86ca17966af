// What makes a [SlabCache] struct one the generator can serve. The generator skips a struct that breaks a rule;
// the analyzer reports which rule, with these same checks.
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace SlabGen.Generators;

internal static class SlabCacheRules
{
    public const string SlabCacheAttribute = "SlabGen.SlabCacheAttribute";
    public const string SlabConstructorAttribute = "SlabGen.SlabConstructorAttribute";

    /// <summary>The largest alignment a slab object may ask for: the page size.</summary>
    public const int MaxAlign = 4096;

    public static bool IsWellFormed(INamedTypeSymbol type, TypeDeclarationSyntax syntax, SlabCacheArguments arguments) =>
        type.TypeKind == TypeKind.Struct
        && !type.IsRefLikeType
        && !IsGenericOrInGeneric(type)
        && IsPartialWithContainers(syntax)
        && type.IsUnmanagedType
        && IsValidAlign(arguments.Align)
        && (arguments.Name is null || arguments.Name.Length != 0)
        && HasValidSlabConstructors(type);

    public static bool IsGenericOrInGeneric(INamedTypeSymbol type)
    {
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            if (t.TypeParameters.Length != 0)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The declaration and every type declaration around it say <c>partial</c>.</summary>
    public static bool IsPartialWithContainers(TypeDeclarationSyntax syntax)
    {
        for (SyntaxNode? node = syntax; node is not null; node = node.Parent)
        {
            if (node is TypeDeclarationSyntax declaration && !declaration.Modifiers.Any(SyntaxKind.PartialKeyword))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>0 (natural alignment), or a power of two up to the page size.</summary>
    public static bool IsValidAlign(int align) => align == 0 || (align > 0 && align <= MaxAlign && (align & (align - 1)) == 0);

    /// <summary>At most one [SlabConstructor], and it is <c>static void M(ref T)</c>.</summary>
    public static bool HasValidSlabConstructors(INamedTypeSymbol type)
    {
        List<IMethodSymbol> constructors = SlabConstructors(type).ToList();
        return constructors.Count == 0 || (constructors.Count == 1 && IsSlabConstructorShape(constructors[0], type));
    }

    public static bool IsSlabConstructorShape(IMethodSymbol method, INamedTypeSymbol type) =>
        method.IsStatic
        && method.ReturnsVoid
        && !method.IsGenericMethod
        && method.Parameters.Length == 1
        && method.Parameters[0].RefKind == RefKind.Ref
        && SymbolEqualityComparer.Default.Equals(method.Parameters[0].Type, type);

    public static IEnumerable<IMethodSymbol> SlabConstructors(INamedTypeSymbol type) =>
        type.GetMembers().OfType<IMethodSymbol>().Where(static m => m.GetAttributes()
            .Any(static a => a.AttributeClass?.ToDisplayString() == SlabConstructorAttribute));
}

/// <summary>The arguments of one [SlabCache] attribute.</summary>
internal sealed record SlabCacheArguments(string? Name, int Align, uint Flags, bool Checked)
{
    /// <summary>The arguments, or null when one of them does not compile.</summary>
    public static SlabCacheArguments? Read(AttributeData attribute)
    {
        string? name = null;
        int align = 0;
        uint flags = 0;
        bool isChecked = false;
        foreach (KeyValuePair<string, TypedConstant> argument in attribute.NamedArguments)
        {
            TypedConstant value = argument.Value;
            if (value.Kind == TypedConstantKind.Error)
            {
                return null;
            }

            switch (argument.Key)
            {
                case "Name":
                    name = value.Value as string;
                    break;
                case "Align" when value.Value is int a:
                    align = a;
                    break;
                case "Flags" when value.Value is uint f:
                    flags = f;
                    break;
                case "Checked" when value.Value is bool c:
                    isChecked = c;
                    break;
                default:
                    return null;
            }
        }

        return new SlabCacheArguments(name, align, flags, isChecked);
    }
}
