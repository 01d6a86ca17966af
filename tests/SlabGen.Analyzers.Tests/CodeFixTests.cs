// The mechanical fixes: add partial, Kernel to Atomic, a small Vmalloc to an atomic Kmalloc.
using SlabGen.Analyzers.CodeFixes;

namespace SlabGen.Analyzers.Tests;

public class CodeFixTests
{
    private const string Usings = "using SlabGen;\n";

    [Fact]
    public Task Partial_is_added_to_the_struct() => Verify.CodeFix<SlabCacheAnalyzer, AddPartialCodeFix>(
        Usings + "[SlabCache] public readonly struct {|SLAB001:S|} { public readonly int X; }",
        Usings + "[SlabCache] public readonly partial struct S { public readonly int X; }");

    [Fact]
    public Task Partial_is_added_to_a_containing_type_without_modifiers() => Verify.CodeFix<SlabCacheAnalyzer, AddPartialCodeFix>(
        Usings + "class Outer { [SlabCache] public partial struct {|SLAB001:S|} { public int X; } }",
        Usings + "partial class Outer { [SlabCache] public partial struct S { public int X; } }");

    [Fact]
    public Task Partial_is_added_to_the_struct_and_every_type_around_it() => Verify.CodeFix<SlabCacheAnalyzer, AddPartialCodeFix>(
        Usings + "public static class Outer { public class Middle { [SlabCache] public struct {|SLAB001:S|} { public int X; } } }",
        Usings + "public static partial class Outer { public partial class Middle { [SlabCache] public partial struct S { public int X; } } }");

    [Fact]
    public Task Kernel_becomes_atomic_other_flags_stay_and_flags_that_may_sleep_without_naming_kernel_get_atomic() => Verify.CodeFix<InterruptContextAnalyzer, UseAtomicCodeFix>(
        Usings + """
        public unsafe class Game
        {
            [InterruptContext]
            public void Frame()
            {
                void* a = Kmem.Kmalloc(64, {|SLAB102:GfpFlags.Kernel | GfpFlags.Zero|});
                void* b = {|SLAB102:Kmem.Kmalloc(64)|};
                void* c = Kmem.Kmalloc(64, {|SLAB102:GfpFlags.Zero|});
                void* d = Kmem.Kmalloc(64, {|SLAB102:GfpFlags.Zero | GfpFlags.NoWarn|});
                void* e = Kmem.Kmalloc(64, {|SLAB102:GfpFlags.None|});
                Kmem.Kfree(a); Kmem.Kfree(b); Kmem.Kfree(c); Kmem.Kfree(d); Kmem.Kfree(e);
            }
        }
        """,
        Usings + """
        public unsafe class Game
        {
            [InterruptContext]
            public void Frame()
            {
                void* a = Kmem.Kmalloc(64, GfpFlags.Atomic | GfpFlags.Zero);
                void* b = Kmem.Kmalloc(64, flags: GfpFlags.Atomic);
                void* c = Kmem.Kmalloc(64, GfpFlags.Atomic | GfpFlags.Zero);
                void* d = Kmem.Kmalloc(64, GfpFlags.Atomic | (GfpFlags.Zero | GfpFlags.NoWarn));
                void* e = Kmem.Kmalloc(64, GfpFlags.Atomic);
                Kmem.Kfree(a); Kmem.Kfree(b); Kmem.Kfree(c); Kmem.Kfree(d); Kmem.Kfree(e);
            }
        }
        """);

    [Fact]
    public Task A_small_vmalloc_becomes_an_atomic_kmalloc_and_its_vfree_a_kfree() => Verify.CodeFix<InterruptContextAnalyzer, UseKmallocCodeFix>(
        Usings + """
        public unsafe class Game
        {
            [InterruptContext]
            public void Frame()
            {
                byte* scratch = (byte*){|SLAB101:Kmem.Vmalloc(256)|};
                scratch[0] = 1;
                Kmem.Vfree(scratch);
            }
        }
        """,
        Usings + """
        public unsafe class Game
        {
            [InterruptContext]
            public void Frame()
            {
                byte* scratch = (byte*)Kmem.Kmalloc(256, GfpFlags.Atomic);
                scratch[0] = 1;
                Kmem.Kfree(scratch);
            }
        }
        """);

    [Fact]
    public Task A_large_vmalloc_gets_no_fix() => Verify.CodeFix<InterruptContextAnalyzer, UseKmallocCodeFix>(
        Usings + """
        public unsafe class Game
        {
            [InterruptContext]
            public void Frame() { void* p = {|SLAB101:Kmem.Vmalloc(1 << 20)|}; Kmem.Vfree(p); }
        }
        """,
        Usings + """
        public unsafe class Game
        {
            [InterruptContext]
            public void Frame() { void* p = {|SLAB101:Kmem.Vmalloc(1 << 20)|}; Kmem.Vfree(p); }
        }
        """);
}
