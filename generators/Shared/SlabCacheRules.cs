// What makes a [SlabCache] struct one the generator can serve. The generator skips a struct that breaks a rule;
// the analyzer reports which rule, with these same checks. Compiled into both (generators/Shared).
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace SlabGen.Generators;

internal static class SlabCacheRules
{
    public const string SlabCacheAttribute = Contract.SlabCacheAttribute;
    public const string SlabConstructorAttribute = Contract.SlabConstructorAttribute;

    /// <summary>The largest alignment a slab object may ask for: the page size.</summary>
    public const int MaxAlign = Contract.PageSize;

    /// <summary>The names of the members the generator adds; a struct that declares one of them itself is refused.</summary>
    public static readonly string[] GeneratedMemberNames = ["Cache", "ThisThread", "Alloc", "TryAlloc", "New", "TryNew", "Free", "__slabCache", "__SlabThreadCache"];

    /// <summary>How the generated files' names end: the analyzer tells the generator's members from the user's by it.</summary>
    public const string GeneratedFileSuffix = Contract.GeneratedFileSuffix;

    public static bool IsWellFormed(INamedTypeSymbol type, TypeDeclarationSyntax syntax, SlabCacheArguments arguments) =>
        type.TypeKind == TypeKind.Struct
        && !type.IsRefLikeType
        && !IsGenericOrInGeneric(type)
        && IsPartialWithContainers(syntax)
        && type.IsUnmanagedType
        && IsValidAlign(arguments.Align)
        && (arguments.Name is null || arguments.Name.Length != 0)
        && HasValidSlabConstructors(type)
        && !IsFileLocal(type)
        && RequiredMember(type) is null
        && ClashingMember(type) is null;

    /// <summary>
    /// The cache name when [SlabCache] gives none: the type's name with its namespace and containing types
    /// (<c>Game.World.Particle</c>), so two types of the same simple name never share a name.
    /// </summary>
    public static string DefaultCacheName(INamedTypeSymbol type) => type.ToDisplayString(SymbolDisplayFormat.CSharpErrorMessageFormat
        .WithMiscellaneousOptions(SymbolDisplayMiscellaneousOptions.None));

    /// <summary>Whether the type, or one around it, is <c>file</c>-local: a generated part in another file would be another type.</summary>
    public static bool IsFileLocal(INamedTypeSymbol type)
    {
        for (INamedTypeSymbol? t = type; t is not null; t = t.ContainingType)
        {
            if (t.IsFileLocal)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The first <c>required</c> field or property: <c>New</c> could not create the struct without setting it.</summary>
    public static ISymbol? RequiredMember(INamedTypeSymbol type) => type.GetMembers()
        .FirstOrDefault(static m => m is IFieldSymbol { IsRequired: true } or IPropertySymbol { IsRequired: true });

    /// <summary>
    /// The first member the user declared with a name the generator adds (a field, property, method, event or nested
    /// type), or null. Members in the generator's own files do not count.
    /// </summary>
    public static ISymbol? ClashingMember(INamedTypeSymbol type)
    {
        foreach (string name in GeneratedMemberNames)
        {
            foreach (ISymbol member in type.GetMembers(name))
            {
                if (!member.IsImplicitlyDeclared && member.Locations.Any(static l => l.IsInSource
                    && !(l.SourceTree?.FilePath.EndsWith(GeneratedFileSuffix, System.StringComparison.Ordinal) ?? false)))
                {
                    return member;
                }
            }
        }

        return null;
    }

    /// <summary>How many [SlabCache] attributes the type carries over all its partial declarations (more than one is CS0579).</summary>
    public static int SlabCacheAttributeCount(INamedTypeSymbol type) =>
        type.GetAttributes().Count(static a => a.AttributeClass?.ToDisplayString() == SlabCacheAttribute);

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
