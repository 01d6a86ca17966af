// [InterruptContext] as a contract on interfaces, their members, virtual methods and delegate types: every
// implementation, override and lambda is checked in interrupt context, with the contract named. Calls on known
// concrete receivers are followed into the implementation; the opt-in rules name calls the analysis cannot see
// (SLAB108) and P/Invokes (SLAB109); the additional file lists more methods that may sleep.
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;

namespace SlabGen.Analyzers.Tests;

public class ContractTests
{
    private const string Usings = "using System; using System.IO; using System.Runtime.InteropServices; using System.Threading; using SlabGen;\n";

    private static Task Check(string source, params (string, string)[] editorConfig) =>
        Verify.Rules(Verify.SleepRules, Usings + source, editorConfig);

    [Fact]
    public async Task Implementations_of_an_interrupt_interface_member_are_checked_and_name_the_contract()
    {
        var test = new CSharpAnalyzerTest<InterruptContextAnalyzer, DefaultVerifier>
        {
            TestCode = Usings + """
                public interface IAudioCallback { [InterruptContext] void Render(float[] buffer); void Configure(); }
                [InterruptContext] public interface IFrameHandler { void OnFrame(); }
                public sealed class Speaker : IAudioCallback, IFrameHandler
                {
                    public void Render(float[] buffer) => {|#0:Thread.Sleep(1)|};
                    public void Configure() => Thread.Sleep(1); // not part of the contract
                    public void OnFrame() { {|#1:lock (this) { }|} }
                }
                public abstract class Effect { [InterruptContext] public abstract void Process(); }
                public sealed class Echo : Effect { public override void Process() => {|#2:File.Exists("x")|}; }
                """,
            ReferenceAssemblies = Verify.Net10,
        };
        test.TestState.AdditionalReferences.AddRange(Verify.References);
        test.ExpectedDiagnostics.Add(new DiagnosticResult(Descriptors.BlockingCallInInterrupt).WithLocation(0)
            .WithArguments("Thread.Sleep", "Speaker.Render, which implements [InterruptContext] IAudioCallback.Render", ""));
        test.ExpectedDiagnostics.Add(new DiagnosticResult(Descriptors.BlockingCallInInterrupt).WithLocation(1)
            .WithArguments("lock", "Speaker.OnFrame, which implements [InterruptContext] IFrameHandler.OnFrame", " (lock waits for the holder)"));
        test.ExpectedDiagnostics.Add(new DiagnosticResult(Descriptors.BlockingCallInInterrupt).WithLocation(2)
            .WithArguments("File.Exists", "Echo.Process, which implements [InterruptContext] Effect.Process", ""));
        await test.RunAsync();
    }

    [Fact]
    public Task Lambdas_converted_to_an_interrupt_delegate_type_are_checked() => Check("""
        [InterruptContext] public delegate void FrameCallback(double dt);
        public class Engine
        {
            public void Register(FrameCallback callback) { }
            public void Setup()
            {
                Register(dt => {|SLAB105:Thread.Sleep(1)|});
                Action plain = () => Thread.Sleep(1); // not a contract
                FrameCallback clean = static dt => { };
            }
        }
        """);

    [Fact]
    public Task A_call_on_a_sealed_or_just_created_receiver_follows_the_implementation() => Check("""
        public interface IStore { void Save(); }
        public sealed class DiskStore : IStore { public void Save() => File.WriteAllText("a", "b"); }
        public class MemoryStore : IStore { public virtual void Save() { } }
        public class Game
        {
            private readonly DiskStore _disk = new();
            [InterruptContext]
            public void Frame(MemoryStore memory)
            {
                {|SLAB104:_disk.Save()|};
                {|SLAB104:((IStore)new DiskStore()).Save()|};
                {|SLAB108:memory.Save()|}; // the testing library enables the opt-in rule: an override may be anywhere
            }
        }
        """);

    [Fact]
    public Task Opaque_calls_are_reported_by_the_opt_in_rule_unless_the_target_is_a_contract() => Check("""
        public interface IPlugin { void Tick(); }
        public interface ISafe { [InterruptContext] void Tick(); }
        public abstract class Behaviour { public abstract void Update(); public virtual void Late() { } }
        public sealed class Sealed : Behaviour { public override void Update() { } }
        public class Game
        {
            [InterruptContext]
            public void Frame(IPlugin plugin, ISafe safe, Behaviour behaviour, Sealed known, Action callback, Func<int, int> f)
            {
                {|SLAB108:plugin.Tick()|};
                safe.Tick();
                {|SLAB108:behaviour.Update()|};
                {|SLAB108:behaviour.Late()|};
                known.Update();
                {|SLAB108:callback()|};
                _ = {|SLAB108:f(1)|};
            }
        }
        """, ("dotnet_diagnostic.SLAB108.severity", "warning"));

    [Fact]
    public async Task The_opt_in_rules_are_silent_in_a_real_compilation_until_enabled()
    {
        const string source = Usings + """
            public interface IPlugin { void Tick(); }
            public static class Native { [DllImport("libc")] public static extern int usleep(uint usec); }
            public class Game { [InterruptContext] public void Frame(IPlugin plugin, Action callback) { plugin.Tick(); callback(); Native.usleep(1); } }
            """;
        Microsoft.CodeAnalysis.CSharp.CSharpCompilation compilation = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create("Opaque",
            [Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(source)], Verify.References,
            new Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));

        async Task<string[]> Ids(Microsoft.CodeAnalysis.CSharp.CSharpCompilation c) => [.. (await c
            .WithAnalyzers([new InterruptContextAnalyzer()]).GetAnalyzerDiagnosticsAsync()).Select(static d => d.Id).Order()];

        Assert.Empty(await Ids(compilation));
        var enabled = compilation.WithOptions(compilation.Options.WithSpecificDiagnosticOptions(
            [new("SLAB108", ReportDiagnostic.Warn), new("SLAB109", ReportDiagnostic.Warn)]));
        Assert.Equal(["SLAB108", "SLAB108", "SLAB109"], await Ids(enabled));
    }

    [Fact]
    public Task P_Invoke_in_interrupt_context_is_reported_by_the_opt_in_rule_unless_it_suppresses_the_GC_transition() => Check("""
        public static unsafe partial class Native
        {
            [DllImport("libc")] public static extern int usleep(uint usec);
            [DllImport("libc"), SuppressGCTransition] public static extern int getpid();
        }
        public class Game
        {
            [InterruptContext]
            public void Frame()
            {
                {|SLAB109:Native.usleep(10)|};
                Native.getpid();
            }
        }
        """, ("dotnet_diagnostic.SLAB109.severity", "warning"));

    [Fact]
    public async Task Methods_listed_in_the_additional_file_are_blocking()
    {
        var test = new CSharpAnalyzerTest<InterruptContextAnalyzer, DefaultVerifier>
        {
            TestCode = Usings + """
                namespace ThirdParty { public static class Db { public static void Query() { } public static void Cached() { } } }
                public class Game { [InterruptContext] public void Frame() { {|SLAB105:ThirdParty.Db.Query()|}; ThirdParty.Db.Cached(); } }
                """,
            ReferenceAssemblies = Verify.Net10,
        };
        test.TestState.AdditionalReferences.AddRange(Verify.References);
        test.TestState.AdditionalFiles.Add(("/SlabGen.MaySleep.txt", "# third-party calls that block\nThirdParty.Db.Query   # a network round trip\n\n"));
        await test.RunAsync();
    }
}
