// SLAB106: every kind of await in interrupt-context code and inside run-time scopes, and silence outside them: before
// a scope, after it, in a lambda written inside one, in ordinary async code.
namespace SlabGen.Analyzers.Tests;

public class AwaitRuleTests
{
    private const string Usings = "using System; using System.Collections.Generic; using System.IO; using System.Threading.Tasks; using SlabGen;\n";

    private static Task Check(string source) => Verify.Rules(Verify.AwaitRules, Usings + source);

    [Fact]
    public Task Await_await_foreach_and_await_using_in_interrupt_context_methods_and_types() => Check("""
        public class Server
        {
            [InterruptContext]
            public async Task Handle(Stream body, IAsyncEnumerable<int> items)
            {
                {|SLAB106:await Task.Yield()|};
                int n = {|SLAB106:await body.ReadAsync(new byte[8])|};
                {|SLAB106:await|} foreach (int item in items) { }
                {|SLAB106:await|} using (var copy = new MemoryStream()) { }
            }
        }

        [InterruptContext]
        public class Audio
        {
            public async ValueTask Render()
            {
                Func<Task> later = async () => {|SLAB106:await Task.Delay(1)|};
                {|SLAB106:await later()|};
            }
        }
        """);

    [Fact]
    public Task Await_inside_using_scopes_and_after_using_declarations() => Check("""
        public class Game
        {
            public async Task Frame()
            {
                await Task.Yield();
                using (InterruptContext.Enter())
                {
                    {|SLAB106:await Task.Yield()|};
                    if (DateTime.Now.Ticks > 0)
                    {
                        {|SLAB106:await Task.Delay(1)|};
                    }
                }

                await Task.Yield();
            }

            public async Task Declared()
            {
                await Task.Yield();
                using var scope = InterruptContext.Enter();
                {|SLAB106:await Task.Yield()|};
            }

            public async Task Nested()
            {
                using (InterruptContext.Scope outer = InterruptContext.Enter())
                using (var disk = new MemoryStream())
                {
                    {|SLAB106:await disk.FlushAsync()|};
                }
            }
        }
        """);

    [Fact]
    public Task No_diagnostic_outside_scopes_in_lambdas_written_inside_one_or_in_plain_async_code() => Check("""
        public class Game
        {
            public async Task Load()
            {
                await Task.Yield();
                using (var file = new MemoryStream()) { await file.FlushAsync(); }
                await using (var other = new MemoryStream()) { }
            }

            public void Frame(List<Func<Task>> work)
            {
                using (InterruptContext.Enter())
                {
                    work.Add(async () => await Task.Delay(1));
                    work.Add(Local);
                    async Task Local() => await Task.Yield();
                }
            }

            public async Task After()
            {
                using (InterruptContext.Enter()) { }
                await Task.Yield();
            }
        }
        """);
}
