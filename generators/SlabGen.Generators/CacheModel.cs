// What the emitter needs of one [SlabCache] struct: strings, numbers and equatable arrays only (no symbols,
// no syntax), so equal structs give equal models and the incremental pipeline caches them.
namespace SlabGen.Generators;

/// <summary>One [SlabCache] struct.</summary>
/// <param name="Namespace">The namespace, or empty for the global namespace.</param>
/// <param name="ContainingTypes">The types the struct is nested in, outermost first.</param>
/// <param name="TypeName">The struct's name.</param>
/// <param name="FullyQualifiedName">The struct's name with <c>global::</c>, namespace and containing types.</param>
/// <param name="IsRecord">Whether the struct is a <c>record struct</c>.</param>
/// <param name="CacheName">The cache's name in slabinfo.</param>
/// <param name="Align">The alignment asked for, or 0.</param>
/// <param name="Flags">The SlabFlags value.</param>
/// <param name="Checked">Whether handles are generation-checked.</param>
/// <param name="SlabConstructor">The name of the [SlabConstructor] method, or null.</param>
/// <param name="Constructors">The public instance constructors, each a New overload.</param>
/// <param name="PrioritizeConstructorOverloads">
/// Whether the compilation can rank overloads (C# 13 and OverloadResolutionPriorityAttribute): the New overloads of
/// constructors with parameters then win over <c>New(GfpFlags)</c>, so <c>New(0)</c> calls <c>T(long)</c> instead of
/// reading 0 as flags.
/// </param>
/// <param name="MarkNotClsCompliant">Whether the generated public members say [CLSCompliant(false)] (a CLS-compliant assembly, a visible struct).</param>
internal sealed record CacheModel(
    string Namespace,
    EquatableArray<ContainingType> ContainingTypes,
    string TypeName,
    string FullyQualifiedName,
    bool IsRecord,
    string CacheName,
    int Align,
    uint Flags,
    bool Checked,
    string? SlabConstructor,
    EquatableArray<ConstructorModel> Constructors,
    bool PrioritizeConstructorOverloads,
    bool MarkNotClsCompliant)
{
    /// <summary>The generated file's name: unique per struct, readable in the IDE.</summary>
    public string HintName => FullyQualifiedName.Substring("global::".Length) + SlabCacheRules.GeneratedFileSuffix;
}

/// <summary>A type a [SlabCache] struct is nested in.</summary>
/// <param name="Keyword">Its declaration keyword: class, struct, interface, record or record struct.</param>
/// <param name="Name">Its name.</param>
internal sealed record ContainingType(string Keyword, string Name);

/// <summary>A public constructor of the struct.</summary>
/// <param name="Parameters">Its parameters.</param>
/// <param name="Obsolete">Its [Obsolete] attribute as C# source, for its New and TryNew; null when it has none.</param>
/// <param name="IsUnsafe">Whether a parameter's type holds a pointer or a function pointer: New and TryNew are unsafe then.</param>
/// <param name="IsNullableOblivious">Whether a reference-type parameter was declared where nullable annotations are off: New and TryNew are then emitted with them off too, so a default of null stays as silent as in the user's code.</param>
internal sealed record ConstructorModel(EquatableArray<ParameterModel> Parameters, string? Obsolete, bool IsUnsafe, bool IsNullableOblivious);

/// <summary>A constructor parameter, as the New overload repeats it.</summary>
/// <param name="Type">The fully qualified type, with nullable annotations.</param>
/// <param name="Name">The name, escaped with @ when it is a keyword.</param>
/// <param name="Modifier">"ref ", "in ", "out ", "ref readonly " or empty.</param>
/// <param name="IsParams">Whether it is a params parameter.</param>
/// <param name="DefaultValue">The default value as C# source, or null when it has none.</param>
internal sealed record ParameterModel(string Type, string Name, string Modifier, bool IsParams, string? DefaultValue)
{
    /// <summary>How an argument is passed to this parameter.</summary>
    public string ArgumentModifier => Modifier == "ref readonly " ? "in " : Modifier;
}
