// CPU time of this process and of its finished children, from getrusage(2): user plus system time of every thread,
// so a compile's parallel work and its GC are counted, and another process on the shared machine is not.
using System.Runtime.InteropServices;

namespace SlabGen.Benchmarks.Analyzers;

internal static partial class Cpu
{
    private const int Self = 0;
    private const int Children = -1;

    /// <summary>CPU seconds this process has used so far, all threads.</summary>
    public static double OfSelf() => Read(Self);

    /// <summary>CPU seconds used by the children this process has waited for, all their threads.</summary>
    public static double OfChildren() => Read(Children);

    private static double Read(int who)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("The analyzer cost needs getrusage as Linux has it.");
        }

        if (GetRusage(who, out Usage usage) != 0)
        {
            throw new InvalidOperationException($"getrusage failed: errno {Marshal.GetLastPInvokeError()}");
        }

        return usage.UserSeconds + usage.UserMicroseconds / 1e6 + usage.SystemSeconds + usage.SystemMicroseconds / 1e6;
    }

    [LibraryImport("libc", EntryPoint = "getrusage", SetLastError = true)]
    private static partial int GetRusage(int who, out Usage usage);

    /// <summary>struct rusage on 64-bit Linux: two timevals, then fourteen longs.</summary>
    [StructLayout(LayoutKind.Sequential)]
    private struct Usage
    {
        public long UserSeconds;
        public long UserMicroseconds;
        public long SystemSeconds;
        public long SystemMicroseconds;
        private unsafe fixed long _rest[14];
    }
}
