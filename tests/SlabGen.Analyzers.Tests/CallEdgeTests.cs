// The interrupt-context analysis on the shapes real code has: calls the compiler removes are not edges, every
// kind of call C# has is one, the answer does not depend on declaration order, overloads are told apart in
// chains, and the blocking table's newer entries (with the in-memory look-alikes that must stay silent).
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;

namespace SlabGen.Analyzers.Tests;

public class CallEdgeTests
{
    private const string Usings = "using System; using System.Collections.Generic; using System.Diagnostics; using System.IO; using System.Threading; using System.Threading.Tasks; using SlabGen;\n";

    private static Task Check(string source) => Verify.Analyzer<InterruptContextAnalyzer>(Usings + source);

    /// <summary>Checks SLAB104 chains: each {|#n:…|} location gets the callee and chain given for n.</summary>
    private static async Task Chains(string[] sources, params (string Callee, string Chain)[] expected)
    {
        var test = new CSharpAnalyzerTest<InterruptContextAnalyzer, DefaultVerifier> { ReferenceAssemblies = Verify.Net10 };
        foreach (string source in sources)
        {
            test.TestState.Sources.Add(Usings + source);
        }

        test.TestState.AdditionalReferences.AddRange(Verify.References);
        for (int i = 0; i < expected.Length; i++)
        {
            test.ExpectedDiagnostics.Add(new DiagnosticResult(Descriptors.SleepingCallChainInInterrupt)
                .WithLocation(i).WithArguments(expected[i].Callee, expected[i].Chain));
        }

        await test.RunAsync();
    }

    [Fact]
    public Task Calls_of_Conditional_methods_whose_symbol_is_undefined_and_bodiless_partial_methods_are_not_edges() => Check("""
        public static partial class Log
        {
            private static readonly object Gate = new();
            [Conditional("SLABGEN_TRACE")] public static void Trace(string message) { lock (Gate) { Console.WriteLine(message); } }
            [Conditional("DEBUG_NEVER")] public static void Sleepy() => Thread.Sleep(1);
            static partial void OnFrame();
        }
        public partial class Game
        {
            [InterruptContext]
            public void Frame()
            {
                Log.Trace("frame");
                Log.Sleepy();
                Log.Trace(Load()); // the argument is not evaluated either
                OnFrame();
            }
            private static string Load() { Thread.Sleep(1); return ""; }
            partial void OnFrame();
        }
        """);

    [Fact]
    public Task A_Conditional_call_counts_when_its_file_defines_the_symbol() => Verify.Analyzer<InterruptContextAnalyzer>("#define SLABGEN_TRACE\n" + Usings + """
        public static class Log
        {
            [Conditional("SLABGEN_TRACE")] public static void Trace() => Thread.Sleep(1);
        }
        public class Game
        {
            [InterruptContext]
            public void Frame() => {|SLAB104:Log.Trace()|};
        }
        """);

    [Fact]
    public Task A_Conditional_call_is_omitted_when_its_file_undefines_the_symbol_or_defines_it_only_in_an_inactive_region() => Verify.Analyzer<InterruptContextAnalyzer>("""
        #define SLABGEN_TRACE
        #undef SLABGEN_TRACE
        #if SLABGEN_NEVER
        #define SLABGEN_AUDIT
        #endif
        #define SLABGEN_KEPT

        """ + Usings + """
        public static class Log
        {
            [Conditional("SLABGEN_TRACE")] public static void Trace() => Thread.Sleep(1);
            [Conditional("SLABGEN_AUDIT")] public static void Audit() => Thread.Sleep(1);
            [Conditional("SLABGEN_KEPT")] public static void Kept() => Thread.Sleep(1);
        }
        public class Game
        {
            [InterruptContext]
            public void Frame()
            {
                Log.Trace();
                Log.Audit();
                {|SLAB104:Log.Kept()|};
            }
        }
        """);

    [Fact]
    public Task Property_getters_and_setters_constructors_operators_events_foreach_and_using_are_edges() => Check("""
        public class Mixer
        {
            private readonly ReaderWriterLockSlim _gate = new();
            private float _volume;
            public float Volume
            {
                get { _gate.EnterReadLock(); try { return _volume; } finally { _gate.ExitReadLock(); } }
                set { lock (this) { _volume = value; } }
            }
            public float this[int channel] { get { Thread.Sleep(1); return 0; } }
            public event Action Changed { add { lock (this) { } } remove { } }
        }
        public readonly struct Song
        {
            public Song(string path) => Exists = File.Exists(path);
            public bool Exists { get; }
            public static Song operator +(Song a, Song b) { Thread.Sleep(1); return a; }
            public static implicit operator bool(Song s) { Thread.Sleep(1); return s.Exists; }
        }
        public sealed class Playlist
        {
            public Enumerator GetEnumerator() => new();
            public struct Enumerator { public bool MoveNext() { Thread.Sleep(1); return false; } public Song Current => default; }
        }
        public sealed class Lease : IDisposable { public void Dispose() => Thread.Sleep(1); }
        public class Audio
        {
            private readonly Mixer _mixer = new();
            [InterruptContext]
            public void Callback(Playlist list)
            {
                float v = {|SLAB104:_mixer.Volume|};
                {|SLAB104:_mixer.Volume|} = v;
                {|SLAB104:{|SLAB104:_mixer.Volume|}|} += 1; // the getter and the setter
                float first = {|SLAB104:_mixer[0]|};
                {|SLAB104:_mixer.Changed += Callback0|};
                _mixer.Changed -= Callback0;
                var song = {|SLAB104:new Song("a.ogg")|};
                var both = {|SLAB104:song + song|};
                bool playing = {|SLAB104:both|};
                foreach (Song s in {|SLAB104:list|}) { }
                {|SLAB104:using (var lease = new Lease()) { }|}
            }
            private static void Callback0() { }
        }
        """);

    [Fact]
    public async Task Every_method_on_a_path_is_reported_whatever_the_order_and_the_files_the_methods_are_declared_in()
    {
        // A → B → A and A → D → Thread.Sleep: B reaches the sleep through A although A is on B's path when B is met.
        string[] parts =
        [
            "public partial class Game { private void A() { B(); D(); } }",
            "public partial class Game { private void B() { if (Environment.TickCount > 0) A(); } }",
            "public partial class Game { private static void D() => Thread.Sleep(1); }",
            "public partial class Game { [InterruptContext] public void Frame() { {|#0:A()|}; {|#1:B()|}; } }",
        ];
        int[][] orders = [[0, 1, 2, 3], [3, 2, 1, 0], [1, 3, 0, 2], [2, 0, 3, 1]];
        foreach (int[] order in orders)
        {
            await Chains([.. order.Select(i => parts[i])],
                ("Game.A", "Game.Frame → Game.A → Game.D → Thread.Sleep"),
                ("Game.B", "Game.Frame → Game.B → Game.A → Game.D → Thread.Sleep"));
        }
    }

    [Fact]
    public Task Chains_write_overloads_with_their_parameters_when_two_steps_share_a_name() => Chains(
        ["""
        public class GraphicsResource : IDisposable
        {
            public void Dispose() => Dispose(true);
            protected virtual void Dispose(bool disposing) => Thread.Sleep(1);
        }
        public class Renderer
        {
            private readonly GraphicsResource _texture = new();
            [InterruptContext]
            public void Frame() => {|#0:_texture.Dispose()|};
        }
        """],
        ("GraphicsResource.Dispose", "Renderer.Frame → GraphicsResource.Dispose() → GraphicsResource.Dispose(bool) → Thread.Sleep"));

    [Fact]
    public Task The_blocking_table_covers_locks_spinning_parallel_console_files_and_dns() => Check("""
        public class Server
        {
            private readonly ReaderWriterLockSlim _rw = new();
            private readonly System.Threading.Lock _lock = new();
            private readonly object _gate = new();
            [InterruptContext]
            public void Tick(StreamWriter log, System.Collections.Concurrent.BlockingCollection<int> queue)
            {
                {|SLAB105:_rw.EnterWriteLock()|};
                _rw.ExitWriteLock();
                bool got = {|SLAB105:_rw.TryEnterReadLock(10)|};
                using ({|SLAB105:_lock.EnterScope()|}) { }
                bool taken = {|SLAB105:Monitor.TryEnter(_gate, TimeSpan.FromMilliseconds(5))|};
                bool now = Monitor.TryEnter(_gate);
                var spinner = new SpinWait();
                {|SLAB105:spinner.SpinOnce()|};
                {|SLAB105:Parallel.For(0, 4, static _ => { })|};
                {|SLAB105:Console.WriteLine("tick")|};
                {|SLAB105:log.WriteLine("tick")|};
                using var file = {|SLAB105:new FileStream("a.bin", FileMode.Open)|};
                var hosts = {|SLAB105:System.Net.Dns.GetHostEntry("localhost")|};
                int item = {|SLAB105:queue.Take()|};
                {|SLAB105:Process.GetCurrentProcess().WaitForExit()|};
            }
        }
        """);

    [Fact]
    public Task In_memory_streams_readers_and_writers_are_not_blocking() => Check("""
        public class Codec
        {
            [InterruptContext]
            public void Encode(byte[] data)
            {
                var memory = new MemoryStream();
                memory.Write(data, 0, data.Length);
                memory.Flush();
                var text = new StringWriter();
                text.WriteLine("x");
                var reader = new StringReader("y");
                _ = reader.ReadLine();
            }
        }
        """);
}
