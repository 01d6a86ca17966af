using System.Diagnostics;
using System.Reflection;

namespace SlabGen.Tests;

/// <summary>
/// Runs a static test body in a child process (the test assembly started with <c>dotnet exec</c>, which enters
/// <see cref="Main"/>), so a crash or a hang in crash-prone code fails one test instead of killing the test run.
/// </summary>
internal static class ChildProcess
{
    private const string Verb = "--slabgen-child";
    private const string UnhandledVerb = "--slabgen-child-unhandled";

    /// <summary>Runs <paramref name="body"/> (a static method) in a child process; fails with its output when it fails.</summary>
    public static void Run(Action body, TimeSpan? timeout = null, params (string Name, string Value)[] environment)
    {
        (int exitCode, string output) = Start(body, Verb, timeout ?? TimeSpan.FromMinutes(2), environment);
        Assert.True(exitCode == 0, $"{body.Method.Name} failed in its child process (exit code {exitCode}):\n{output}");
    }

    private static (int ExitCode, string Output) Start(Action body, string verb, TimeSpan timeout, params (string Name, string Value)[] environment)
    {
        MethodInfo method = body.Method;
        Assert.True(method.IsStatic && body.Target is null, "a child process runs a static method only");
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        start.ArgumentList.Add("exec");
        start.ArgumentList.Add(typeof(ChildProcess).Assembly.Location);
        start.ArgumentList.Add(verb);
        start.ArgumentList.Add(method.DeclaringType!.AssemblyQualifiedName!);
        start.ArgumentList.Add(method.Name);
        foreach ((string name, string value) in environment)
        {
            start.Environment[name] = value;
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"{method.Name} hung in its child process.\n{output.Result}{error.Result}");
        }

        return (process.ExitCode, output.Result + error.Result);
    }

    /// <summary>
    /// Runs <paramref name="body"/> in a child process where its exception goes unhandled, as in a program's Main, and
    /// returns what the runtime printed (standard error). Fails if the child exits cleanly.
    /// </summary>
    public static string RunUnhandled(Action body, params (string Name, string Value)[] environment)
    {
        (int exitCode, string output) = Start(body, UnhandledVerb, TimeSpan.FromMinutes(1), environment);
        Assert.True(exitCode != 0, $"{body.Method.Name} was expected to die of an unhandled exception:\n{output}");
        return output;
    }

    /// <summary>The child's entry point: runs the named static method; any exception is a non-zero exit.</summary>
    public static int Main(string[] args)
    {
        if (args.Length != 3 || (args[0] != Verb && args[0] != UnhandledVerb))
        {
            Console.Error.WriteLine($"usage: dotnet exec SlabGen.Tests.dll {Verb} <type> <method>");
            return 2;
        }

        MethodInfo method = Type.GetType(args[1], throwOnError: true)!
            .GetMethod(args[2], BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic)!;
        if (args[0] == UnhandledVerb)
        {
            method.CreateDelegate<Action>()(); // no catch: the runtime reports what escapes
            return 0;
        }

        try
        {
            method.Invoke(null, null);
            return 0;
        }
        catch (TargetInvocationException e)
        {
            Console.Error.WriteLine(e.InnerException);
            return 1;
        }
    }
}
