// What the analyzers can know of a struct's layout at compile time: its natural alignment and a lower bound
// of its size, following the runtime's sequential layout for the cases that matter. Where unsure, both err low
// (an alignment of 1, a size of 0), so the rules that use them never fire on correct code.
using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace SlabGen.Analyzers;

internal static class StructLayoutEstimate
{
    /// <summary>The alignment the runtime gives the struct as a field; 1 when unknown.</summary>
    public static int NaturalAlignment(ITypeSymbol type) => Alignment(type, depth: 0);

    /// <summary>At least this many bytes: the sum of the fields' sizes, without padding.</summary>
    public static long SizeLowerBound(ITypeSymbol type) => Size(type, depth: 0);

    private static int Alignment(ITypeSymbol type, int depth)
    {
        int primitive = PrimitiveSize(type);
        if (primitive != 0)
        {
            return primitive;
        }

        if (type is not INamedTypeSymbol { TypeKind: TypeKind.Struct } named || depth > 16)
        {
            return 1;
        }

        if (IsIntrinsicVector(named))
        {
            return 8; // 16 or more on some targets: 8 never reports a correct struct
        }

        int alignment = 1;
        foreach (IFieldSymbol field in InstanceFields(named))
        {
            ITypeSymbol fieldType = field.IsFixedSizeBuffer && field.Type is IPointerTypeSymbol pointer ? pointer.PointedAtType : field.Type;
            alignment = Math.Max(alignment, Alignment(fieldType, depth + 1));
        }

        int pack = Pack(named);
        return pack > 0 ? Math.Min(alignment, pack) : alignment;
    }

    private static long Size(ITypeSymbol type, int depth)
    {
        int primitive = PrimitiveSize(type);
        if (primitive != 0)
        {
            return primitive;
        }

        if (type is not INamedTypeSymbol { TypeKind: TypeKind.Struct } named || depth > 16)
        {
            return 0;
        }

        long size = 0;
        foreach (IFieldSymbol field in InstanceFields(named))
        {
            size += field.IsFixedSizeBuffer && field.Type is IPointerTypeSymbol pointer
                ? (long)field.FixedSize * Size(pointer.PointedAtType, depth + 1)
                : Size(field.Type, depth + 1);
        }

        return size;
    }

    public static IEnumerable<IFieldSymbol> InstanceFields(INamedTypeSymbol type) =>
        type.GetMembers().OfType<IFieldSymbol>().Where(static f => !f.IsStatic && !f.IsConst);

    /// <summary>The size of a primitive, enum or pointer (64-bit); 0 for anything else.</summary>
    private static int PrimitiveSize(ITypeSymbol type)
    {
        if (type is INamedTypeSymbol { TypeKind: TypeKind.Enum, EnumUnderlyingType: { } underlying })
        {
            type = underlying;
        }

        if (type.TypeKind is TypeKind.Pointer or TypeKind.FunctionPointer)
        {
            return 8;
        }

        return type.SpecialType switch
        {
            SpecialType.System_Boolean or SpecialType.System_Byte or SpecialType.System_SByte => 1,
            SpecialType.System_Char or SpecialType.System_Int16 or SpecialType.System_UInt16 => 2,
            SpecialType.System_Int32 or SpecialType.System_UInt32 or SpecialType.System_Single => 4,
            SpecialType.System_Int64 or SpecialType.System_UInt64 or SpecialType.System_Double
                or SpecialType.System_IntPtr or SpecialType.System_UIntPtr => 8,
            _ => 0,
        };
    }

    private static bool IsIntrinsicVector(INamedTypeSymbol type) =>
        type.ContainingNamespace?.ToDisplayString() == "System.Runtime.Intrinsics" || type.Name is "Int128" or "UInt128";

    private static int Pack(INamedTypeSymbol type)
    {
        AttributeData? layout = type.GetAttributes().FirstOrDefault(static a => a.AttributeClass?.ToDisplayString() == "System.Runtime.InteropServices.StructLayoutAttribute");
        foreach (KeyValuePair<string, TypedConstant> argument in layout?.NamedArguments ?? [])
        {
            if (argument.Key == "Pack" && argument.Value.Value is int pack)
            {
                return pack;
            }
        }

        return 0;
    }
}
