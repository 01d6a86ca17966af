// SLAB107: every kind of managed allocation in interrupt-context code, directly and through calls with the chain,
// and the look-alikes that allocate nothing (spans, stackalloc, static and non-capturing lambdas, throw paths,
// empty params and arrays, interpolation into a handler, structs).
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;

namespace SlabGen.Analyzers.Tests;

public class ManagedAllocationRuleTests
{
    private const string Usings = "using System; using System.Collections.Generic; using System.Linq; using System.Numerics; using System.Threading.Tasks; using SlabGen;\n";

    private static Task Check(string source) => Verify.Rules(Verify.AllocationRules, Usings + source);

    [Fact]
    public Task Each_kind_of_allocation_in_a_frame_is_reported() => Check("""
        public class Game
        {
            private int _score;
            private readonly List<int> _items = new();
            [InterruptContext]
            public void Frame(int dt, params int[] extra)
            {
                var list = {|SLAB107:new List<int>()|};
                int[] array = {|SLAB107:new int[16]|};
                object boxed = {|SLAB107:dt|};
                Func<int> closure = {|SLAB107:() => dt + _score|};
                Action method = {|SLAB107:Tick|};
                string joined = {|SLAB107:"score " + _score|};
                string text = {|SLAB107:$"score {_score}"|};
                var evens = {|SLAB107:_items.Where(static i => i % 2 == 0)|};
                int[] literal = {|SLAB107:[1, 2, 3]|};
                {|SLAB107:Log(1, 2)|};
                string s = {|SLAB107:_score.ToString()|};
                {|SLAB107:Save()|};
            }
            private void Tick() { }
            private static void Log(params int[] values) { }
            private static async Task Save() => await Task.Yield();
        }
        """);

    [Fact]
    public Task What_allocates_nothing_is_not_reported() => Check("""
        public class Game
        {
            private static int s_count;
            [InterruptContext]
            public unsafe void Frame(int dt)
            {
                Span<int> span = stackalloc int[16];
                Span<int> fromExpression = [1, 2, 3];
                int[] empty = [];
                var v = new Vector3(1, 2, 3);
                Func<int, int> square = static x => x * x;
                Func<int> constant = () => 42;
                Action tick = Tick;
                Log();
                string constantText = "a" + "b";
                if (dt < 0) throw new ArgumentOutOfRangeException(nameof(dt), $"negative: {dt}");
                s_count += dt;
                var stamp = new DefaultInterpolatedStringHandlerUser().Stamp(dt);
            }
            private static void Tick() { }
            private static void Log(params int[] values) { }
        }
        public struct DefaultInterpolatedStringHandlerUser { public int Stamp(int x) => x; }
        """);

    [Fact]
    public async Task An_allocation_reached_through_calls_is_reported_once_at_the_allocation_with_its_first_chain_and_the_count_of_the_others()
    {
        var test = new CSharpAnalyzerTest<InterruptContextAnalyzer, DefaultVerifier>
        {
            TestCode = Usings + """
                public class World
                {
                    [InterruptContext]
                    public void Frame() { Spawn(); Step(); Spawn(); }
                    [InterruptContext]
                    public void Audio() => Grow();
                    [InterruptContext]
                    public void Tick() => Step();
                    private void Spawn() => Grow();
                    private static void Grow() { var bullets = {|#0:new List<int>()|}; }
                    private static void Step() { var log = {|#1:new int[8]|}; }
                }
                """,
            ReferenceAssemblies = Verify.Net10,
        };
        test.TestState.AdditionalReferences.AddRange(Verify.References);
        test.ExpectedDiagnostics.Add(new DiagnosticResult(Descriptors.ManagedAllocationInInterrupt)
            .WithLocation(0).WithArguments("new List<int>", "through World.Frame → World.Spawn → World.Grow → new List<int> (and 2 more interrupt-context calls)"));
        test.ExpectedDiagnostics.Add(new DiagnosticResult(Descriptors.ManagedAllocationInInterrupt)
            .WithLocation(1).WithArguments("new int[]", "through World.Frame → World.Step → new int[] (and 1 more interrupt-context call)"));
        await test.RunAsync();
    }

    [Fact]
    public Task An_Amortized_callee_stops_every_chain_through_it_while_direct_and_other_allocations_are_still_reported() => Check("""
        public unsafe class Pool
        {
            private nint[] _slots = new nint[16];
            private int _count;
            public void Add(byte* slot) { if (_count == _slots.Length) Grow(); _slots[_count++] = (nint)slot; }
            [Amortized("grows by doubling: at most 30 times a run")]
            private void Grow() { var bigger = new nint[_slots.Length * 2]; _slots.CopyTo(bigger, 0); _slots = bigger; }
            public void Clear() { _count = 0; Scratch(); }
            private static void Scratch() { var list = {|SLAB107:new List<int>()|}; }
        }
        public unsafe class World
        {
            private readonly Pool _pool = new();
            [InterruptContext]
            public void Frame(byte* a, byte* b)
            {
                _pool.Add(a);
                _pool.Add(b);
                _pool.Clear();
                int[] direct = {|SLAB107:new int[4]|};
            }
            [InterruptContext]
            public void Audio(byte* c) => _pool.Add(c);
        }
        """);

    [Fact]
    public Task Code_outside_interrupt_context_may_allocate() => Check("""
        public class Loader
        {
            public List<int> Load() => new List<int> { 1, 2, 3 };
            public string Name(int id) => "level " + id;
        }
        """);
}
