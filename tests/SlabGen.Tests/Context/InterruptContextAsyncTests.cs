namespace SlabGen.Tests.Context;

/// <summary>Interrupt context belongs to a thread: a scope that an await carried to another thread cannot strand either thread in it.</summary>
public sealed class InterruptContextAsyncTests
{
    [Fact]
    public async Task A_scope_left_on_another_thread_after_an_await_throws_and_leaves_neither_thread_in_interrupt_context()
    {
        nint enteringWord = 0;
        int enteringThread = 0, disposingThread = 0, disposerDepthAfter = -1;
        Exception? error = null;
        Task flow = Task.Run(async () =>
        {
            InterruptContext.Scope scope = InterruptContext.Enter();
            enteringThread = Environment.CurrentManagedThreadId;
            enteringWord = Depth.Word();
            await new ResumeOnNewThread();
            disposingThread = Environment.CurrentManagedThreadId;
            using (InterruptContext.Enter())
            {
                error = Record.Exception(scope.Dispose);
                disposerDepthAfter = Depth.Current();
            }
        });
        await flow;

        Assert.NotEqual(enteringThread, disposingThread);
        Assert.Contains("left on another thread", Assert.IsType<InvalidOperationException>(error).Message);
        Assert.Contains("The entering thread has left the scope", error.Message);
        Assert.Equal(1, disposerDepthAfter);
        Assert.Equal(0, Depth.At(enteringWord));
        bool[] active = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() => InterruptContext.IsActive)));
        Assert.DoesNotContain(true, active);
    }

    /// <summary>An await that always resumes on a new thread, as an await may resume on any pool thread.</summary>
    private readonly struct ResumeOnNewThread : System.Runtime.CompilerServices.INotifyCompletion
    {
        public bool IsCompleted => false;

        public ResumeOnNewThread GetAwaiter() => this;

        public void OnCompleted(Action continuation) => new Thread(() => continuation()).Start();

        public void GetResult()
        {
        }
    }

    private static unsafe class Depth
    {
        public static nint Word() => (nint)ThreadSlots.InterruptDepthWord;

        public static int Current() => ThreadSlots.InterruptDepth;

        public static int At(nint word) => *(int*)word;
    }
}
