// The framework calls that block the calling thread: SLAB105's list. Asynchronous forms (…Async, await) do not
// block and are not listed. Users add their own with [MaySleep] or the .editorconfig key slabgen_may_sleep_methods.
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
        ["System.Threading.Lock"] = ["Enter"],
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

    /// <summary>Stream and reader/writer members that do synchronous I/O, on any type derived from these.</summary>
    private static readonly (string BaseType, HashSet<string> Names)[] IoMembers =
    [
        ("System.IO.Stream", ["Read", "ReadByte", "ReadExactly", "ReadAtLeast", "Write", "WriteByte", "Flush", "CopyTo"]),
        ("System.IO.TextReader", ["Read", "ReadBlock", "ReadLine", "ReadToEnd"]),
    ];

    /// <summary>Blocking properties: the result of an unfinished task waits for it.</summary>
    private static readonly HashSet<string> Properties = new(StringComparer.Ordinal)
    {
        "System.Threading.Tasks.Task.Result",
        "System.Threading.Tasks.ValueTask.Result",
    };

    /// <summary>Whether the method blocks the calling thread, as far as this list knows.</summary>
    public static bool IsBlocking(IMethodSymbol method)
    {
        if (IsFileSystemMember(method))
        {
            return !method.Name.EndsWith("Async", StringComparison.Ordinal);
        }

        if (!AnyName.Contains(method.Name))
        {
            return false;
        }

        INamedTypeSymbol type = method.ContainingType.OriginalDefinition;
        if (Methods.TryGetValue(MetadataName(type), out HashSet<string>? names) && names.Contains(method.Name))
        {
            return true;
        }

        return IoMembers.Any(io => io.Names.Contains(method.Name) && DerivesFrom(type, io.BaseType));
    }

    /// <summary>Every method name the lists mention: most calls are rejected by this one lookup.</summary>
    private static readonly HashSet<string> AnyName = new(
        Methods.Values.SelectMany(static n => n).Concat(IoMembers.SelectMany(static io => io.Names)), StringComparer.Ordinal);

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
