// The framework calls that block the calling thread: SLAB105's list (docs/analyzers.md has it as a table), native
// allocation and free among them.
// Asynchronous forms (…Async, await) do not block and are not listed; in-memory streams do not wait. Users add their own with [MaySleep] or the .editorconfig key slabgen_may_sleep_methods.
using System;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;

namespace SlabGen.Analyzers;

internal static class BlockingApis
{
    /// <summary>Methods by containing type (metadata name without arity) and name.</summary>
    private static readonly Dictionary<string, HashSet<string>> Methods = new(StringComparer.Ordinal)
    {
        ["System.Threading.Thread"] = ["Sleep", "Join"],
        ["System.Threading.Monitor"] = ["Enter", "Wait"],
        ["System.Threading.Lock"] = ["Enter", "EnterScope"],
        ["System.Threading.ReaderWriterLockSlim"] = ["EnterReadLock", "EnterWriteLock", "EnterUpgradeableReadLock"],
        ["System.Threading.ReaderWriterLock"] = ["AcquireReaderLock", "AcquireWriterLock", "UpgradeToWriterLock"],
        ["System.Threading.SpinWait"] = ["SpinOnce", "SpinUntil"],
        ["System.Threading.Tasks.Parallel"] = ["For", "ForEach", "Invoke"],
        ["System.Collections.Concurrent.BlockingCollection"] = ["Add", "Take", "CompleteAdding", "GetConsumingEnumerable"],
        ["System.Diagnostics.Process"] = ["WaitForExit", "WaitForInputIdle"],
        ["System.Net.Dns"] = ["GetHostEntry", "GetHostAddresses", "GetHostByName", "Resolve"],
        ["System.Net.Http.HttpClient"] = ["Send"],
        ["System.Console"] = ["Write", "WriteLine", "Read", "ReadLine", "ReadKey", "Beep"],
        ["System.Threading.Tasks.Task"] = ["Wait", "WaitAll", "WaitAny"],
        ["System.Runtime.CompilerServices.TaskAwaiter"] = ["GetResult"],
        ["System.Runtime.CompilerServices.ValueTaskAwaiter"] = ["GetResult"],
        ["System.Runtime.CompilerServices.ConfiguredTaskAwaitable.ConfiguredTaskAwaiter"] = ["GetResult"],
        ["System.Runtime.CompilerServices.ConfiguredValueTaskAwaitable.ConfiguredValueTaskAwaiter"] = ["GetResult"],
        ["System.Threading.SemaphoreSlim"] = ["Wait"],
        ["System.Threading.ManualResetEventSlim"] = ["Wait"],
        ["System.Threading.CountdownEvent"] = ["Wait"],
        ["System.Threading.Barrier"] = ["SignalAndWait"],
        ["System.Threading.WaitHandle"] = ["WaitOne", "WaitAll", "WaitAny", "SignalAndWait"],
        ["System.Net.Sockets.Socket"] = ["Accept", "Connect", "Receive", "ReceiveFrom", "ReceiveMessageFrom", "Send", "SendTo", "SendFile", "Disconnect"],
        ["System.Net.Sockets.TcpClient"] = ["Connect"],
        ["System.Net.Sockets.TcpListener"] = ["AcceptSocket", "AcceptTcpClient"],
        ["System.Net.Sockets.UdpClient"] = ["Receive", "Send"],
    };

    /// <summary>
    /// Stream and reader/writer members that do synchronous I/O, on any type derived from these except the in-memory
    /// ones (<see cref="InMemory"/>), which only copy bytes.
    /// </summary>
    private static readonly (string BaseType, HashSet<string> Names)[] IoMembers =
    [
        ("System.IO.Stream", ["Read", "ReadByte", "ReadExactly", "ReadAtLeast", "Write", "WriteByte", "Flush", "CopyTo"]),
        ("System.IO.TextReader", ["Read", "ReadBlock", "ReadLine", "ReadToEnd"]),
        ("System.IO.TextWriter", ["Write", "WriteLine", "Flush"]),
    ];

    /// <summary>Streams, readers and writers over memory: their reads and writes never wait.</summary>
    private static readonly HashSet<string> InMemory = new(StringComparer.Ordinal)
    {
        "System.IO.MemoryStream", "System.IO.UnmanagedMemoryStream", "System.IO.StringReader", "System.IO.StringWriter",
    };

    /// <summary>Types whose constructors open files or sockets: <c>new FileStream(path, …)</c> does I/O before it returns.</summary>
    private static readonly HashSet<string> BlockingConstructors = new(StringComparer.Ordinal)
    {
        "System.IO.FileStream", "System.IO.StreamReader", "System.IO.StreamWriter", "System.IO.FileSystemWatcher",
        "System.Net.Sockets.TcpClient", "System.IO.Pipes.NamedPipeServerStream",
    };

    /// <summary>Overloads that block only when given a timeout: Monitor.TryEnter(obj, 100) waits, TryEnter(obj) does not.</summary>
    private static readonly Dictionary<string, HashSet<string>> TimeoutOverloads = new(StringComparer.Ordinal)
    {
        ["System.Threading.Monitor"] = ["TryEnter"],
        ["System.Threading.Lock"] = ["TryEnter"],
        ["System.Threading.ReaderWriterLockSlim"] = ["TryEnterReadLock", "TryEnterWriteLock", "TryEnterUpgradeableReadLock"],
        ["System.Collections.Concurrent.BlockingCollection"] = ["TryAdd", "TryTake"],
    };

    /// <summary>
    /// Native allocation and free (malloc and free underneath): an allocator may take a lock, or map memory from the OS
    /// and fault it in, as Clang's nonblocking attribute and RealtimeSanitizer treat malloc. Copies and fills are not listed.
    /// </summary>
    private static readonly Dictionary<string, HashSet<string>> NativeAllocation = new(StringComparer.Ordinal)
    {
        ["System.Runtime.InteropServices.NativeMemory"] = ["Alloc", "AllocZeroed", "AlignedAlloc", "Realloc", "AlignedRealloc", "Free", "AlignedFree"],
        ["System.Runtime.InteropServices.Marshal"] = ["AllocHGlobal", "AllocCoTaskMem", "ReAllocHGlobal", "ReAllocCoTaskMem", "FreeHGlobal", "FreeCoTaskMem"],
    };

    /// <summary>What SLAB105's message adds for SpinWait.SpinOnce(-1), which never sleeps but still waits.</summary>
    public const string SpinWithoutSleepReason = " (with -1 it never sleeps, but it still spins waiting for other threads)";

    /// <summary>What SLAB105's message adds for the other SpinWait calls, which end in sleeping.</summary>
    public const string SpinReason = " (spinning ends in sleeping)";

    /// <summary>What SLAB105's message adds for a native allocation or free.</summary>
    public const string NativeAllocationReason = " (native allocation may take a lock or map memory from the OS)";

    /// <summary>Whether the method allocates or frees native memory (<see cref="NativeAllocation"/>).</summary>
    public static bool IsNativeAllocation(IMethodSymbol method) =>
        method.ContainingType is { Name: "NativeMemory" or "Marshal", ContainingNamespace: { Name: "InteropServices", ContainingNamespace: { Name: "Runtime", ContainingNamespace.Name: "System" } } }
        && NativeAllocation.TryGetValue(MetadataName(method.ContainingType), out HashSet<string>? names) && names.Contains(method.Name);

    /// <summary>Blocking properties: the result of an unfinished task waits for it.</summary>
    private static readonly HashSet<string> Properties = new(StringComparer.Ordinal)
    {
        "System.Threading.Tasks.Task.Result",
        "System.Threading.Tasks.ValueTask.Result",
    };

    /// <summary>
    /// Whether the method, called on <paramref name="receiver"/> (the instance's static type, or null), blocks the
    /// calling thread, as far as this list knows. A StringWriter's WriteLine is TextWriter's method, so the receiver
    /// tells it from a StreamWriter's.
    /// </summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public static bool IsBlocking(IMethodSymbol method, ITypeSymbol? receiver) =>
        IsBlocking(method) && !(receiver is INamedTypeSymbol named && InMemoryType(named));

    private static bool InMemoryType(INamedTypeSymbol? type)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (InMemory.Contains(MetadataName(type)))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Whether the method blocks the calling thread, as far as this list knows.</summary>
    [System.Runtime.CompilerServices.MethodImpl(Hot.Path)]
    public static bool IsBlocking(IMethodSymbol method)
    {
        if (IsNativeAllocation(method))
        {
            return true;
        }

        if (IsFileSystemMember(method))
        {
            return !method.Name.EndsWith("Async", StringComparison.Ordinal);
        }

        if (method.MethodKind == MethodKind.Constructor)
        {
            return method.Parameters.Length != 0 && TypeNames.Contains(method.ContainingType.Name)
                && BlockingConstructors.Contains(MetadataName(method.ContainingType.OriginalDefinition));
        }

        if (!AnyName.Contains(method.Name))
        {
            return false;
        }

        if (!method.DeclaringSyntaxReferences.IsEmpty)
        {
            return false; // a body in the compilation (a Stream subclass's own Read, say) is followed, not judged by name
        }

        INamedTypeSymbol type = method.ContainingType.OriginalDefinition;
        if (!TypeNames.Contains(type.Name) && !DerivesFromIoType(type))
        {
            return false; // List<T>.Add and the like: one lookup of a simple name, no string built
        }

        string typeName = MetadataName(type);
        if (Methods.TryGetValue(typeName, out HashSet<string>? names) && names.Contains(method.Name))
        {
            return true;
        }

        if (TimeoutOverloads.TryGetValue(typeName, out HashSet<string>? timed) && timed.Contains(method.Name))
        {
            return method.Parameters.Any(static p => p.Type.SpecialType == SpecialType.System_Int32 && p.Name.Contains("imeout")
                || p.Type is INamedTypeSymbol { Name: "TimeSpan" });
        }

        return !InMemoryType(type) && IoMembers.Any(io => io.Names.Contains(method.Name) && DerivesFrom(type, io.BaseType));
    }

    /// <summary>The simple names of every type the lists mention: the second cheap filter, before full names are built.</summary>
    private static readonly HashSet<string> TypeNames = new(
        Methods.Keys.Concat(TimeoutOverloads.Keys).Concat(BlockingConstructors).Select(static n => n.Substring(n.LastIndexOf('.') + 1)),
        StringComparer.Ordinal);

    /// <summary>Whether a base type is named Stream, TextReader or TextWriter (by simple name; the full check follows).</summary>
    private static bool DerivesFromIoType(INamedTypeSymbol? type)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (type.Name is "Stream" or "TextReader" or "TextWriter")
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Every method name the lists mention: most calls are rejected by this one lookup.</summary>
    private static readonly HashSet<string> AnyName = new(
        Methods.Values.SelectMany(static n => n).Concat(IoMembers.SelectMany(static io => io.Names))
            .Concat(TimeoutOverloads.Values.SelectMany(static n => n)), StringComparer.Ordinal);

    /// <summary>A member of System.IO.File or System.IO.Directory: every synchronous one does file-system I/O.</summary>
    private static bool IsFileSystemMember(IMethodSymbol method) =>
        method.ContainingType is { Name: "File" or "Directory", ContainingNamespace: { Name: "IO", ContainingNamespace.Name: "System" } };

    public static bool IsBlocking(IPropertySymbol property) => property.Name == "Result" &&
        Properties.Contains(MetadataName(property.ContainingType.OriginalDefinition) + "." + property.Name);

    /// <summary>The namespace-qualified name without generic arity: Task for Task and Task&lt;T&gt;.</summary>
    public static string MetadataName(INamedTypeSymbol type) => type.ContainingType is { } outer
        ? MetadataName(outer) + "." + type.Name
        : (type.ContainingNamespace is { IsGlobalNamespace: false } ns ? ns.ToDisplayString() + "." : "") + type.Name;

    private static bool DerivesFrom(INamedTypeSymbol? type, string baseType)
    {
        for (; type is not null; type = type.BaseType)
        {
            if (MetadataName(type) == baseType)
            {
                return true;
            }
        }

        return false;
    }
}
