// SLAB1xx: each rule fires in interrupt context, with the call chain for indirect calls, and stays silent on
// the near misses: clean interrupt code, Atomic flags, the same calls outside interrupt context, look-alikes.
namespace SlabGen.Analyzers.Tests;

public class InterruptContextAnalyzerTests
{
    private const string Usings = "using System; using System.IO; using System.Threading; using System.Threading.Tasks; using SlabGen;\n";

    private static Task Check(string source, params (string, string)[] editorConfig) =>
        Verify.Rules(Verify.SleepRules, Usings + source, editorConfig);

    [Fact]
    public Task Clean_interrupt_code_and_sleeping_code_outside_interrupt_context_get_no_diagnostics() => Check("""
        public unsafe class Game
        {
            private readonly KmemCache _cache = KmemCache.Create("c", 64, 0);
            [InterruptContext]
            public void Frame(void* old)
            {
                void* a = Kmem.Kmalloc(64, GfpFlags.Atomic);
                void* b = Kmem.Kzalloc(32, GfpFlags.Atomic | GfpFlags.NoWarn);
                void* c = _cache.Alloc(GfpFlags.Atomic);
                Kmem.Kfree(a); Kmem.Kfree(b); _cache.Free(c);
                Kmem.Vfree(old);
                Helper();
                Action later = Load; // a delegate is not a call
            }
            private static int Helper() => 42;
            public void Load()
            {
                void* level = Kmem.Vmalloc(1 << 20);
                Thread.Sleep(1);
                lock (this) { }
                Kmem.Vfree(level);
            }
            public void Vmalloc() { } // looks alike, is not Kmem.Vmalloc
            [InterruptContext] public void CallsLookAlike() => Vmalloc();
        }
        """);

    [Fact]
    public Task Vmalloc_family_in_an_interrupt_method() => Check("""
        public unsafe class Game
        {
            [InterruptContext]
            public void Frame()
            {
                void* a = {|SLAB101:Kmem.Vmalloc(4096)|};
                void* b = {|SLAB101:Kmem.Vzalloc(4096)|};
                void* c = {|SLAB101:Kmem.Kvmalloc(64)|};
            }
        }
        """);

    [Fact]
    public Task Kernel_flags_given_or_defaulted_in_interrupt_context() => Check("""
        public unsafe class Game
        {
            private readonly KmemCache _cache = KmemCache.Create("c", 64, 0);
            [InterruptContext]
            public void Frame(PageAllocator pages)
            {
                void* a = Kmem.Kmalloc(64, {|SLAB102:GfpFlags.Kernel|});
                void* b = {|SLAB102:Kmem.Kmalloc(64)|};
                void* c = {|SLAB102:_cache.Alloc()|};
                void* d = pages.AllocPages(0, {|SLAB102:GfpFlags.Kernel | GfpFlags.Zero|});
            }
        }
        """);

    [Fact]
    public Task One_call_graph_serves_both_rules_and_a_call_that_allocates_is_followed_only_for_sleeping() =>
        Verify.RulesExpecting([.. Verify.SleepRules, .. Verify.AllocationRules, .. Verify.AwaitRules], Usings + """
            public class Spawner
            {
                private static readonly object s_gate = new();
                [InterruptContext]
                public void Frame()
                {
                    var enemy = {|#0:new Enemy()|};
                    {|#1:Helper()|};
                }
                private static void Helper()
                {
                    var marks = {|#2:new int[4]|};
                    lock (s_gate) { }
                }
            }
            public class Enemy
            {
                private static readonly object s_gate = new();
                private readonly int[] _slots;
                public Enemy()
                {
                    _slots = new int[8];
                    lock (s_gate) { }
                }
            }
            """,
            // new Enemy() is an allocation itself (so the constructor's array is not followed for SLAB107) and a call
            // whose body takes a lock (followed for SLAB104): one edge, two kinds of chain.
            Verify.Diagnostic(Descriptors.ManagedAllocationInInterrupt).WithLocation(0).WithArguments("new Enemy", "in 'Spawner.Frame'"),
            Verify.Diagnostic(Descriptors.SleepingCallChainInInterrupt).WithLocation(0).WithArguments("new Enemy", "Spawner.Frame → new Enemy → lock"),
            Verify.Diagnostic(Descriptors.SleepingCallChainInInterrupt).WithLocation(1).WithArguments("Spawner.Helper", "Spawner.Frame → Spawner.Helper → lock"),
            Verify.Diagnostic(Descriptors.ManagedAllocationInInterrupt).WithLocation(2).WithArguments("new int[]", "through Spawner.Frame → Spawner.Helper → new int[]"));

    [Fact]
    public Task A_helper_ends_a_chain_at_its_first_finding_and_its_lambdas_code_is_not_its_own() =>
        Verify.RulesExpecting([.. Verify.SleepRules, .. Verify.AllocationRules], Usings + """
            public class World
            {
                private static readonly object s_gate = new();
                [InterruptContext]
                public void Frame()
                {
                    {|#0:Grow()|};
                    Defer();
                }
                private static void Grow()
                {
                    var first = {|#1:new int[1]|};
                    var second = new long[2];
                    Other();
                }
                private static void Other()
                {
                    var elsewhere = new byte[3];
                    lock (s_gate) { }
                }
                private static void Defer()
                {
                    Action later = static () => { lock (s_gate) { } var boxed = new object(); };
                    _ = later;
                }
            }
            """,
            // Grow's first allocation ends the allocation chain (not its second, nor Other's); the sleeping chain goes on
            // through Other to its lock. Defer's lambda locks and allocates, but only when called: Defer reaches neither.
            Verify.Diagnostic(Descriptors.SleepingCallChainInInterrupt).WithLocation(0).WithArguments("World.Grow", "World.Frame → World.Grow → World.Other → lock"),
            Verify.Diagnostic(Descriptors.ManagedAllocationInInterrupt).WithLocation(1).WithArguments("new int[]", "through World.Frame → World.Grow → new int[]"));

    [Fact]
    public Task The_kernel_flags_message_names_the_flags_as_written_and_says_may_sleep_once() =>
        Verify.RulesExpecting(Verify.SleepRules, Usings + """
            public unsafe class Game
            {
                [InterruptContext]
                public void Frame()
                {
                    void* a = Kmem.Kmalloc(64, {|#0:GfpFlags.Kernel|});
                    void* b = {|#1:Kmem.Kmalloc(64)|};
                    void* c = Kmem.Kmalloc(64, {|#2:GfpFlags.Zero|});
                }
            }
            """,
            Verify.Diagnostic(Descriptors.KernelFlagsInInterrupt).WithLocation(0).WithArguments("Kmem.Kmalloc", "GfpFlags.Kernel", "Game.Frame"),
            Verify.Diagnostic(Descriptors.KernelFlagsInInterrupt).WithLocation(1).WithArguments("Kmem.Kmalloc", "GfpFlags.Kernel (the default)", "Game.Frame"),
            Verify.Diagnostic(Descriptors.KernelFlagsInInterrupt).WithLocation(2)
                .WithArguments("Kmem.Kmalloc", "GfpFlags.Zero (without GfpFlags.Atomic, that is GfpFlags.Kernel)", "Game.Frame"));

    [Fact]
    public Task An_Amortized_callee_stops_the_sleeping_chain_but_not_a_sleeping_call_in_interrupt_code_itself() => Check("""
        public unsafe class Buffers
        {
            private void* _big;
            public void Ensure() { if (_big == null) Map(); }
            [Amortized("maps its buffer once, on the first frame")]
            private void Map() => _big = Kmem.Vmalloc(1 << 20);
            public void Refill() => Load();
            private void Load() => Thread.Sleep(1);
            public int Size { [Amortized("computed once and cached")] get { Thread.Sleep(1); return 1; } }
        }
        public unsafe class Game
        {
            private readonly Buffers _buffers = new();
            [InterruptContext]
            public void Frame()
            {
                _buffers.Ensure();
                int size = _buffers.Size;
                {|SLAB104:_buffers.Refill()|};
                void* p = {|SLAB101:Kmem.Vmalloc(64)|};
            }
        }
        """);

    [Fact]
    public Task Calls_on_a_type_parameter_are_followed_into_the_struct_or_sealed_type_argument_of_each_instantiation() => Check("""
        public interface IPool { void Rent(); }
        public interface IFactory { static abstract void Make(); }
        public struct SleepyPool : IPool { public void Rent() => Thread.Sleep(1); }
        public struct QuickPool : IPool { public void Rent() { } }
        public sealed class LockedPool : IPool { private readonly object _gate = new(); public void Rent() { lock (_gate) { } } }
        public class OpenPool : IPool { public virtual void Rent() { } }
        public struct SleepyFactory : IFactory { public static void Make() => Thread.Sleep(1); }
        public static class Scheduler
        {
            public static void Run<TPool>(TPool pool) where TPool : IPool => pool.Rent();
            public static void Forward<TPool>(TPool pool) where TPool : IPool => Run(pool);
            public static void Build<TFactory>() where TFactory : IFactory => TFactory.Make();
        }
        public sealed class Solver<TPool> where TPool : IPool
        {
            private TPool _pool = default!;
            public void Step() => _pool.Rent();
        }
        public class Game
        {
            private readonly Solver<SleepyPool> _sleepy = new();
            private readonly Solver<QuickPool> _quick = new();
            [InterruptContext]
            public void Frame(OpenPool open)
            {
                {|SLAB104:Scheduler.Run(new SleepyPool())|};
                Scheduler.Run(new QuickPool());
                {|SLAB104:Scheduler.Forward(new LockedPool())|};
                Scheduler.Run(open);
                {|SLAB104:Scheduler.Build<SleepyFactory>()|};
                {|SLAB104:_sleepy.Step()|};
                _quick.Step();
            }
        }
        """);

    [Fact]
    public async Task The_chain_through_a_generic_method_names_the_type_argument_s_implementation()
    {
        var test = new Microsoft.CodeAnalysis.CSharp.Testing.CSharpAnalyzerTest<InterruptContextAnalyzer, Microsoft.CodeAnalysis.Testing.DefaultVerifier>
        {
            TestCode = Usings + """
                public interface IPool { void Rent(); }
                public unsafe struct GrowingPool : IPool { public void Rent() => Grow(); private static void Grow() { void* p = Kmem.Vmalloc(1 << 20); Kmem.Vfree(p); } }
                public static class Physics { public static void Step<TPool>(TPool pool) where TPool : IPool => pool.Rent(); }
                public class World
                {
                    [InterruptContext]
                    public void Frame() => {|#0:Physics.Step(new GrowingPool())|};
                }
                """,
            ReferenceAssemblies = Verify.Net10,
        };
        test.TestState.AdditionalReferences.AddRange(Verify.References);
        test.ExpectedDiagnostics.Add(new Microsoft.CodeAnalysis.Testing.DiagnosticResult(Descriptors.SleepingCallChainInInterrupt)
            .WithLocation(0).WithArguments("Physics.Step", "World.Frame → Physics.Step → GrowingPool.Rent → GrowingPool.Grow → Kmem.Vmalloc"));
        await test.RunAsync();
    }

    [Fact]
    public Task A_type_marked_interrupt_context_covers_its_methods_lambdas_and_local_functions() => Check("""
        [InterruptContext]
        public unsafe class AudioCallback
        {
            public void Render()
            {
                Action a = () => { void* p = {|SLAB101:Kmem.Vmalloc(64)|}; };
                Local();
                void Local() => {|SLAB105:Thread.Sleep(1)|};
            }
        }
        """);

    [Fact]
    public Task MaySleep_methods_of_any_assembly() => Check("""
        public class Io
        {
            [MaySleep] public static void Flush() { }
            [InterruptContext] public void Frame() => {|SLAB103:Flush()|};
        }
        """);

    [Fact]
    public Task Reserves_and_pool_rents_take_memory_that_may_sleep() => Check("""
        public class Game
        {
            [InterruptContext]
            public void Frame(KmemCache cache, KmemCache<long> typed, PageAllocator pages, SlabMemoryPool pool)
            {
                {|SLAB103:cache.Reserve(100)|};
                {|SLAB103:typed.Reserve(100)|};
                {|SLAB103:pages.Reserve(4096)|};
                {|SLAB103:pool.Rent()|}.Dispose();
                cache.Reset(); // frees only: fine
            }
        }
        """);

    [Fact]
    public async Task MaySleep_methods_of_a_referenced_assembly()
    {
        var test = new Microsoft.CodeAnalysis.CSharp.Testing.CSharpAnalyzerTest<InterruptContextAnalyzer, Microsoft.CodeAnalysis.Testing.DefaultVerifier>
        {
            TestCode = Usings + "public class Game { [InterruptContext] public void Frame() => {|SLAB103:Storage.Library.Save()|}; }",
            ReferenceAssemblies = Verify.Net10,
        };
        test.TestState.AdditionalReferences.AddRange(Verify.References);
        var library = test.TestState.AdditionalProjects["Storage"];
        library.Sources.Add(("Library.cs", "namespace Storage; public static class Library { [SlabGen.MaySleep] public static void Save() { } }"));
        library.AdditionalReferences.AddRange(Verify.References);
        test.TestState.AdditionalProjectReferences.Add("Storage");
        await test.RunAsync();
    }

    [Fact]
    public Task Known_blocking_framework_calls() => Check("""
        public class Server
        {
            [InterruptContext]
            public int OnRequest(Task<int> pending, SemaphoreSlim gate, Stream stream, object sync)
            {
                {|SLAB105:Thread.Sleep(5)|};
                {|SLAB105:gate.Wait()|};
                {|SLAB105:pending.Wait()|};
                int r = {|SLAB105:pending.Result|};
                int s = {|SLAB105:pending.GetAwaiter().GetResult()|};
                {|SLAB105:lock (sync) { }|}
                {|SLAB105:Monitor.Enter(sync)|};
                string text = {|SLAB105:File.ReadAllText("x")|};
                int b = {|SLAB105:stream.ReadByte()|};
                Task later = File.ReadAllTextAsync("x");
                return r + s + b + text.Length;
            }
        }
        """);

    [Fact]
    public Task A_call_chain_reaching_vmalloc_is_reported_at_the_call_with_the_chain() => Check("""
        public unsafe class Net
        {
            [InterruptContext]
            public void OnPacket() => {|SLAB104:Handle()|};
            private void Handle() { Parse(); Grow(); }
            private static void Parse() { }
            private static void Grow() { void* p = Kmem.Vmalloc(1 << 20); Kmem.Vfree(p); }
        }
        """);

    [Fact]
    public async Task The_chain_message_names_every_step()
    {
        var test = new Microsoft.CodeAnalysis.CSharp.Testing.CSharpAnalyzerTest<InterruptContextAnalyzer, Microsoft.CodeAnalysis.Testing.DefaultVerifier>
        {
            TestCode = Usings + """
                public unsafe class Net
                {
                    [InterruptContext]
                    public void OnPacket() => {|#0:Handle()|};
                    private void Handle() => Grow();
                    private static void Grow() { void* p = Kmem.Vmalloc(1 << 20); Kmem.Vfree(p); }
                }
                """,
            ReferenceAssemblies = Verify.Net10,
        };
        test.TestState.AdditionalReferences.AddRange(Verify.References);
        test.ExpectedDiagnostics.Add(new Microsoft.CodeAnalysis.Testing.DiagnosticResult(Descriptors.SleepingCallChainInInterrupt)
            .WithLocation(0).WithArguments("Net.Handle", "Net.OnPacket → Net.Handle → Net.Grow → Kmem.Vmalloc"));
        await test.RunAsync();
    }

    [Fact]
    public Task Recursion_and_cycles_terminate_and_clean_cycles_are_silent() => Check("""
        public unsafe class Graph
        {
            [InterruptContext]
            public void Tick() { A(); {|SLAB104:C()|}; }
            private void A() => B();
            private void B() { if (Environment.TickCount > 0) A(); }
            private void C() => D();
            private void D() { C(); Thread.Sleep(1); }
        }
        """);

    [Fact]
    public Task A_helper_that_only_creates_a_sleeping_lambda_does_not_sleep() => Check("""
        public unsafe class Deferred
        {
            [InterruptContext]
            public void Frame() => Schedule();
            private static void Schedule() { Action load = () => Thread.Sleep(10); _ = load; }
        }
        """);

    [Fact]
    public Task Methods_listed_in_editorconfig_are_blocking() => Check("""
        namespace ThirdParty { public static class Net { public static void Fetch() { } public static void Peek() { } } }
        public class Game
        {
            [InterruptContext]
            public void Frame() { {|SLAB105:ThirdParty.Net.Fetch()|}; ThirdParty.Net.Peek(); }
        }
        """, ("slabgen_may_sleep_methods", "ThirdParty.Net.Fetch"));
}
