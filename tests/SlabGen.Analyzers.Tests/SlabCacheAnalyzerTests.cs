// SLAB0xx: each rule fires where it should, and correct code gets no SlabGen diagnostic at all.
namespace SlabGen.Analyzers.Tests;

public class SlabCacheAnalyzerTests
{
    private static Task Check(string source) => Verify.Analyzer<SlabCacheAnalyzer>("using SlabGen;\n" + source);

    [Fact]
    public Task Correct_structs_get_no_diagnostics() => Check("""
        using System.Numerics;
        using System.Runtime.InteropServices;
        [SlabCache(Name = "particle", Align = 64, Flags = SlabFlags.Poison)]
        public partial struct Particle
        {
            public Vector3 Position, Velocity;
            public Particle(Vector3 p) { Position = p; Velocity = default; }
            [SlabConstructor] static void Init(ref Particle p) => p.Velocity = Vector3.One;
        }
        public static partial class Outer { [SlabCache(Align = 8)] public partial record struct Nested(long A, int B); }
        [SlabCache(Align = 4)] public partial struct Floats { public float A, B; }
        [StructLayout(LayoutKind.Sequential, Pack = 2)] public struct Packed { public long A; }
        [SlabCache(Align = 2)] public partial struct HoldsPacked { public Packed P; }
        [SlabCache] public unsafe partial struct WithPointer { public byte* Data; public fixed byte Inline[4096]; }
        """);

    [Fact]
    public Task A_struct_that_is_not_partial() => Check("""
        [SlabCache] public struct {|SLAB001:S|} { public int X; }
        """);

    [Fact]
    public Task A_containing_type_that_is_not_partial_is_reported_at_each_struct_it_holds() => Check("""
        public class Outer
        {
            [SlabCache] public partial struct {|SLAB001:S|} { public int X; }
            [SlabCache] public partial struct {|SLAB001:T|} { public int X; }
            public partial class Inner { [SlabCache] public partial struct {|SLAB001:U|} { public int X; } }
        }
        """);

    [Fact]
    public Task Members_named_as_generated_ones_required_members_and_file_local_structs() => Check("""
        [SlabCache] public partial struct A { public int X; public static int {|SLAB012:Cache|}; }
        [SlabCache] public partial struct B { public int X; public void {|SLAB012:Free|}(int unrelated) { } }
        [SlabCache] public partial struct C { public int X; public class {|SLAB012:New|} { } }
        [SlabCache] public partial record struct D(int {|SLAB012:Alloc|});
        [SlabCache] public partial struct H { public int X; public static int {|SLAB012:ThisThread|} => 0; }
        [SlabCache] public partial struct E { public required int {|SLAB013:X|}; }
        [SlabCache] public partial struct F { public required int {|SLAB013:X|} { get; init; } }
        [SlabCache] file partial struct {|SLAB014:G|} { public int X; }
        [SlabCache] public partial struct Fine { public int X; public int Allocated; public static void Freeze() { } }
        """);

    [Fact]
    public Task A_reference_field_directly_and_in_a_nested_struct() => Check("""
        public struct Inner { public object O; }
        [SlabCache] public partial struct A { public int X; public string {|SLAB002:Name|}; }
        [SlabCache] public partial struct B { public Inner {|SLAB002:I|}; }
        [SlabCache] public partial struct C { public int[] {|SLAB002:Items|} { get; set; } }
        """);

    [Fact]
    public Task Every_reference_field_is_reported_each_at_its_own_declaration_naming_its_path() =>
        Verify.AnalyzerExpecting<SlabCacheAnalyzer>("""
            using SlabGen;
            public struct Inner { public object O; public int N; public string S; }
            [SlabCache] public partial struct Enemy
            {
                public int Health;
                public string {|#0:Name|};
                public Inner {|#1:Brain|};
                public System.Collections.Generic.List<int> {|#2:Path|};
            }
            """,
            Verify.Diagnostic(Descriptors.NotUnmanaged).WithLocation(0).WithArguments("Enemy", "Name", "string"),
            Verify.Diagnostic(Descriptors.NotUnmanaged).WithLocation(1).WithArguments("Enemy", "Brain.O", "object"),
            Verify.Diagnostic(Descriptors.NotUnmanaged).WithLocation(1).WithArguments("Enemy", "Brain.S", "string"),
            Verify.Diagnostic(Descriptors.NotUnmanaged).WithLocation(2).WithArguments("Enemy", "Path", "System.Collections.Generic.List<int>"));

    [Fact]
    public Task A_generic_struct_and_one_nested_in_a_generic_type() => Check("""
        [SlabCache] public partial struct {|SLAB003:G|}<T> where T : unmanaged { public T X; }
        public partial class Outer<T> { [SlabCache] public partial struct {|SLAB003:S|} { public int X; } }
        """);

    [Fact]
    public Task A_ref_struct() => Check("""
        [SlabCache] public ref partial struct {|SLAB011:R|} { public int X; }
        """);

    [Fact]
    public Task Alignments_that_are_not_a_power_of_two_up_to_the_page_size() => Check("""
        [SlabCache({|SLAB004:Align = 48|})] public partial struct A { public int X; }
        [SlabCache({|SLAB004:Align = 8192|})] public partial struct B { public int X; }
        [SlabCache({|SLAB004:Align = -8|})] public partial struct C { public int X; }
        """);

    [Fact]
    public Task An_alignment_below_the_natural_alignment() => Check("""
        [SlabCache({|SLAB005:Align = 4|})] public partial struct A { public long X; }
        public struct Inner { public double D; }
        [SlabCache({|SLAB005:Align = 2|})] public partial struct B { public byte Tag; public Inner I; }
        """);

    [Fact]
    public Task Slab_constructors_of_the_wrong_shape() => Check("""
        [SlabCache] public partial struct S
        {
            public int X;
            [SlabConstructor] void {|SLAB006:NotStatic|}(ref S s) { }
        }
        [SlabCache] public partial struct T
        {
            public int X;
            [SlabConstructor] static int {|SLAB006:ReturnsValue|}(ref T t) => 0;
        }
        [SlabCache] public partial struct U
        {
            public int X;
            [SlabConstructor] static void {|SLAB006:ByValue|}(U u) { }
        }
        """);

    [Fact]
    public Task Two_slab_constructors() => Check("""
        [SlabCache] public partial struct S
        {
            public int X;
            [SlabConstructor] static void First(ref S s) { }
            [SlabConstructor] static void {|SLAB007:Second|}(ref S s) { }
        }
        """);

    [Fact]
    public Task A_struct_larger_than_the_largest_slab() => Check("""
        public unsafe struct Chunk { public fixed byte Data[1048576]; }
        [SlabCache] public unsafe partial struct {|SLAB008:Huge|} { public Chunk A, B, C, D; public long One; }
        [SlabCache] public unsafe partial struct JustFits { public Chunk A, B, C, D; }
        """);

    [Fact]
    public Task An_empty_name_and_a_name_used_twice() => Check("""
        [SlabCache({|SLAB009:Name = ""|})] public partial struct A { public int X; }
        [SlabCache(Name = "shared")] public partial struct B { public int X; }
        [SlabCache({|SLAB010:Name = "shared"|})] public partial struct C { public int X; }
        [SlabCache] public partial struct D { public int X; }
        [SlabCache(Name = "Other.D")] public partial struct E { public int X; }
        namespace Other { [SlabCache] public partial struct {|SLAB010:D|} { public int X; } }
        namespace Third { public partial class Outer { [SlabCache] public partial struct D { public int X; } } }
        """);

    [Fact]
    public Task The_attribute_on_a_class_is_left_to_the_compiler() => Check("""
        [{|CS0592:SlabCache|}] public partial class K { public int X; }
        """);
}
