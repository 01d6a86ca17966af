// One case per row entry of the blocking table (BlockingApis.cs, docs/analyzers.md): each call, alone in an
// interrupt-context method, is SLAB105; and the look-alikes beside them that do not wait stay silent.
namespace SlabGen.Analyzers.Tests;

public class BlockingTableTests
{
    private const string Usings = "using System; using System.Collections.Concurrent; using System.Diagnostics; using System.IO; using System.Net; using System.Net.Http; using System.Net.Sockets; using System.Threading; using System.Threading.Tasks; using SlabGen;\n";

    public static TheoryData<string, string> Blocking => new()
    {
        { "Thread.Sleep", "Thread.Sleep(1)" },
        { "Thread.Join", "Thread.CurrentThread.Join()" },
        { "Process.WaitForExit", "Process.GetCurrentProcess().WaitForExit()" },
        { "Process.WaitForInputIdle", "Process.GetCurrentProcess().WaitForInputIdle()" },
        { "Monitor.Enter", "Monitor.Enter(this)" },
        { "Monitor.Wait", "Monitor.Wait(this)" },
        { "Monitor.TryEnter with a timeout", "Monitor.TryEnter(this, 10)" },
        { "Lock.Enter", "new System.Threading.Lock().Enter()" },
        { "Lock.EnterScope", "new System.Threading.Lock().EnterScope()" },
        { "Lock.TryEnter with a timeout", "new System.Threading.Lock().TryEnter(TimeSpan.FromMilliseconds(1))" },
        { "ReaderWriterLockSlim.EnterReadLock", "new ReaderWriterLockSlim().EnterReadLock()" },
        { "ReaderWriterLockSlim.EnterWriteLock", "new ReaderWriterLockSlim().EnterWriteLock()" },
        { "ReaderWriterLockSlim.EnterUpgradeableReadLock", "new ReaderWriterLockSlim().EnterUpgradeableReadLock()" },
        { "ReaderWriterLockSlim.TryEnterWriteLock with a timeout", "new ReaderWriterLockSlim().TryEnterWriteLock(5)" },
        { "ReaderWriterLock.AcquireReaderLock", "new ReaderWriterLock().AcquireReaderLock(5)" },
        { "SpinWait.SpinOnce", "new SpinWait().SpinOnce()" },
        { "SpinWait.SpinUntil", "SpinWait.SpinUntil(static () => true)" },
        { "Task.Wait", "Task.CompletedTask.Wait()" },
        { "Task.WaitAll", "Task.WaitAll(Task.CompletedTask)" },
        { "Task.Result", "_ = Task.FromResult(1).Result" },
        { "GetAwaiter().GetResult()", "Task.CompletedTask.GetAwaiter().GetResult()" },
        { "Parallel.For", "Parallel.For(0, 2, static _ => { })" },
        { "Parallel.Invoke", "Parallel.Invoke(static () => { })" },
        { "SemaphoreSlim.Wait", "new SemaphoreSlim(1).Wait()" },
        { "ManualResetEventSlim.Wait", "new ManualResetEventSlim().Wait()" },
        { "CountdownEvent.Wait", "new CountdownEvent(1).Wait()" },
        { "Barrier.SignalAndWait", "new Barrier(1).SignalAndWait()" },
        { "WaitHandle.WaitOne", "new Mutex().WaitOne()" },
        { "BlockingCollection.Take", "new BlockingCollection<int>().Take()" },
        { "BlockingCollection.Add", "new BlockingCollection<int>().Add(1)" },
        { "BlockingCollection.TryTake with a timeout", "new BlockingCollection<int>().TryTake(out int _, 10)" },
        { "File.Exists", "File.Exists(\"a\")" },
        { "Directory.GetFiles", "Directory.GetFiles(\".\")" },
        { "new FileStream", "new FileStream(\"a\", FileMode.Open)" },
        { "new StreamReader", "new StreamReader(\"a\")" },
        { "new StreamWriter", "new StreamWriter(\"a\")" },
        { "Stream.Read", "Stream.Null.Read(new byte[1], 0, 1)" },
        { "Stream.Flush", "Stream.Null.Flush()" },
        { "TextReader.ReadLine", "TextReader.Null.ReadLine()" },
        { "TextWriter.WriteLine", "TextWriter.Null.WriteLine(\"x\")" },
        { "Console.WriteLine", "Console.WriteLine(\"x\")" },
        { "Console.ReadKey", "Console.ReadKey()" },
        { "Socket.Receive", "new Socket(SocketType.Stream, ProtocolType.Tcp).Receive(new byte[1])" },
        { "TcpClient.Connect", "new TcpClient().Connect(\"localhost\", 1)" },
        { "new TcpClient(host, port)", "new TcpClient(\"localhost\", 1)" },
        { "UdpClient.Receive", "new UdpClient().Receive(ref _endpoint)" },
        { "Dns.GetHostEntry", "Dns.GetHostEntry(\"localhost\")" },
        { "Dns.GetHostAddresses", "Dns.GetHostAddresses(\"localhost\")" },
        { "HttpClient.Send", "new HttpClient().Send(new HttpRequestMessage())" },
        { "NativeMemory.Alloc", "System.Runtime.InteropServices.NativeMemory.Alloc(64)" },
        { "NativeMemory.AllocZeroed", "System.Runtime.InteropServices.NativeMemory.AllocZeroed(64)" },
        { "NativeMemory.AlignedAlloc", "System.Runtime.InteropServices.NativeMemory.AlignedAlloc(64, 64)" },
        { "NativeMemory.Realloc", "System.Runtime.InteropServices.NativeMemory.Realloc(null, 64)" },
        { "NativeMemory.AlignedRealloc", "System.Runtime.InteropServices.NativeMemory.AlignedRealloc(null, 64, 64)" },
        { "NativeMemory.Free", "System.Runtime.InteropServices.NativeMemory.Free(null)" },
        { "NativeMemory.AlignedFree", "System.Runtime.InteropServices.NativeMemory.AlignedFree(null)" },
        { "Marshal.AllocHGlobal", "System.Runtime.InteropServices.Marshal.AllocHGlobal(64)" },
        { "Marshal.AllocCoTaskMem", "System.Runtime.InteropServices.Marshal.AllocCoTaskMem(64)" },
        { "Marshal.ReAllocHGlobal", "System.Runtime.InteropServices.Marshal.ReAllocHGlobal(IntPtr.Zero, 64)" },
        { "Marshal.ReAllocCoTaskMem", "System.Runtime.InteropServices.Marshal.ReAllocCoTaskMem(IntPtr.Zero, 64)" },
        { "Marshal.FreeHGlobal", "System.Runtime.InteropServices.Marshal.FreeHGlobal(IntPtr.Zero)" },
        { "Marshal.FreeCoTaskMem", "System.Runtime.InteropServices.Marshal.FreeCoTaskMem(IntPtr.Zero)" },
    };

    public static TheoryData<string, string> NotBlocking => new()
    {
        { "Monitor.TryEnter without a timeout", "Monitor.TryEnter(this)" },
        { "Lock.TryEnter without a timeout", "new System.Threading.Lock().TryEnter()" },
        { "ReaderWriterLockSlim.ExitReadLock", "new ReaderWriterLockSlim().ExitReadLock()" },
        { "BlockingCollection.TryTake without a timeout", "new BlockingCollection<int>().TryTake(out int _)" },
        { "MemoryStream.Write", "new MemoryStream().Write(new byte[1], 0, 1)" },
        { "StringWriter.WriteLine", "new StringWriter().WriteLine(\"x\")" },
        { "StringReader.ReadLine", "new StringReader(\"x\").ReadLine()" },
        { "File.ReadAllBytesAsync", "_ = File.ReadAllBytesAsync(\"a\")" },
        { "new TcpClient()", "new TcpClient()" },
        { "Thread.Yield", "Thread.Yield()" },
        { "NativeMemory.Clear", "System.Runtime.InteropServices.NativeMemory.Clear(null, 0)" },
        { "NativeMemory.Copy", "System.Runtime.InteropServices.NativeMemory.Copy(null, null, 0)" },
        { "NativeMemory.Fill", "System.Runtime.InteropServices.NativeMemory.Fill(null, 0, 1)" },
        { "Marshal.SizeOf", "_ = System.Runtime.InteropServices.Marshal.SizeOf<int>()" },
        { "Marshal.GetLastPInvokeError", "_ = System.Runtime.InteropServices.Marshal.GetLastPInvokeError()" },
        { "a user type named NativeMemory", "NativeMemory.Alloc(64)" },
    };

    [Theory]
    [MemberData(nameof(Blocking))]
    public Task Each_entry_of_the_table_blocks(string entry, string call)
    {
        _ = entry;
        string marked = call.StartsWith("_ = ", StringComparison.Ordinal) ? "_ = {|SLAB105:" + call[4..] + "|}" : "{|SLAB105:" + call + "|}";
        return Verify.Rules(Verify.SleepRules, Usings + Source(marked));
    }

    [Theory]
    [MemberData(nameof(NotBlocking))]
    public Task The_look_alikes_do_not(string entry, string call)
    {
        _ = entry;
        return Verify.Rules(Verify.SleepRules, Usings + Source(call));
    }

    [Fact]
    public Task A_native_allocation_says_why_it_is_reported_and_reached_through_a_call_it_is_a_chain() =>
        Verify.RulesExpecting(Verify.SleepRules, Usings + """
            public unsafe class Pool
            {
                private void* _buffer;
                [InterruptContext]
                public void Frame()
                {
                    {|#0:System.Runtime.InteropServices.NativeMemory.Alloc(64)|};
                    {|#1:Grow()|};
                }

                private void Grow() => _buffer = System.Runtime.InteropServices.NativeMemory.AlignedAlloc(4096, 64);
            }
            """,
            Verify.Diagnostic(Descriptors.BlockingCallInInterrupt).WithLocation(0)
                .WithArguments("NativeMemory.Alloc", "Pool.Frame", BlockingApis.NativeAllocationReason),
            Verify.Diagnostic(Descriptors.SleepingCallChainInInterrupt).WithLocation(1)
                .WithArguments("Pool.Grow", "Pool.Frame → Pool.Grow → NativeMemory.AlignedAlloc"));

    [Fact]
    public Task SpinOnce_with_minus_one_is_still_a_wait_and_the_message_says_it_never_sleeps() =>
        Verify.RulesExpecting(Verify.SleepRules, Usings + Source("{|#0:new SpinWait().SpinOnce(-1)|}"),
            Verify.Diagnostic(Descriptors.BlockingCallInInterrupt).WithLocation(0)
                .WithArguments("SpinWait.SpinOnce", "Host.Frame", BlockingApis.SpinWithoutSleepReason));

    [Fact]
    public Task A_stream_subclass_whose_Read_is_in_the_compilation_is_followed_into_its_body() =>
        Verify.Rules(Verify.SleepRules, Usings + """
            public sealed class RingStream : Stream
            {
                private readonly byte[] _ring = new byte[64];
                public override bool CanRead => true;
                public override bool CanSeek => false;
                public override bool CanWrite => true;
                public override long Length => 0;
                public override long Position { get => 0; set { } }
                public override int Read(byte[] buffer, int offset, int count) { Array.Copy(_ring, 0, buffer, offset, Math.Min(count, 64)); return Math.Min(count, 64); }
                public override void Write(byte[] buffer, int offset, int count) => Thread.Sleep(1);
                public override void Flush() { }
                public override long Seek(long offset, SeekOrigin origin) => 0;
                public override void SetLength(long value) { }
            }

            public class Mixer
            {
                private readonly RingStream _ring = new();
                [InterruptContext]
                public void Pull(byte[] into)
                {
                    _ring.Read(into, 0, into.Length);   // in memory: silent
                    {|SLAB104:_ring.Write(into, 0, 1)|};  // its body sleeps: a chain
                }
            }
            """);

    private static string Source(string statement) => $$"""
        public static class NativeMemory
        {
            public static int Alloc(int size) => size;
        }

        public unsafe class Host
        {
            private IPEndPoint? _endpoint;
            [InterruptContext]
            public void Frame()
            {
                {{statement}};
            }
        }
        """;
}
