// The report of a fault in the sampling pool, on Linux x64: a SIGSEGV handler in front of the runtime's.
//
// Managed code cannot be the handler: the runtime stops the process first ("Invalid Program: attempted to call a
// UnmanagedCallersOnly method from managed code", the faulting thread being in cooperative mode). So the handler is
// 208 bytes of machine code (fault-handler-x64.S, beside this file, is their source) copied into a page that is made
// executable: it compares the faulting address with the pool, and when it is in the pool prints a line with the address
// and its offset from the object, then the report of the half page (SamplePool writes one per half page, ahead of any fault),
// with write(2). In every case it then jumps to the handler that was there before, with the registers it was entered
// with, so the runtime handles the fault exactly as it would have: a NullReferenceException is still one, and an access
// to a protected page in managed code is its fatal AccessViolationException with the managed stack.
// The handler is installed with the previous one's flags and mask, and only over a handler that takes siginfo (the
// runtime's does); otherwise, or on another platform or architecture, faults are the runtime's alone.
using System.Runtime.InteropServices;
using System.Text;

namespace SlabGen;

internal static unsafe partial class FaultReporter
{
    /// <summary>The handler's machine code (fault-handler-x64.S); the data block's address follows it.</summary>
    internal static ReadOnlySpan<byte> Code =>
    [
        0x57, 0x56, 0x52, 0x4c, 0x8b, 0x05, 0xc6, 0x00, 0x00, 0x00, 0x48, 0x8b,
        0x46, 0x10, 0x48, 0x89, 0xc1, 0x49, 0x2b, 0x08, 0x49, 0x3b, 0x48, 0x08,
        0x73, 0x7a, 0x4d, 0x8b, 0x48, 0x10, 0x49, 0x3b, 0x48, 0x20, 0x72, 0x0c,
        0x49, 0x2b, 0x48, 0x20, 0x48, 0xc1, 0xe9, 0x0a, 0x4d, 0x8b, 0x48, 0x28,
        0x48, 0xc1, 0xe9, 0x0b, 0x48, 0xc1, 0xe1, 0x0a, 0x4c, 0x01, 0xc9, 0x49,
        0x89, 0xc9, 0x49, 0x8d, 0x78, 0x66, 0x48, 0x89, 0xc2, 0xe8, 0x58, 0x00,
        0x00, 0x00, 0x41, 0xc6, 0x40, 0x70, 0x2b, 0x48, 0x89, 0xc2, 0x49, 0x2b,
        0x51, 0x08, 0x79, 0x08, 0x48, 0xf7, 0xda, 0x41, 0xc6, 0x40, 0x70, 0x2d,
        0x49, 0x8d, 0xb8, 0x82, 0x00, 0x00, 0x00, 0xe8, 0x36, 0x00, 0x00, 0x00,
        0xb8, 0x01, 0x00, 0x00, 0x00, 0xbf, 0x02, 0x00, 0x00, 0x00, 0x49, 0x8d,
        0x70, 0x30, 0xba, 0x55, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xb8, 0x01, 0x00,
        0x00, 0x00, 0xbf, 0x02, 0x00, 0x00, 0x00, 0x49, 0x8d, 0x71, 0x10, 0x49,
        0x8b, 0x11, 0x0f, 0x05, 0x5a, 0x5e, 0x5f, 0x4c, 0x8b, 0x1d, 0x32, 0x00,
        0x00, 0x00, 0x41, 0xff, 0x63, 0x18, 0x41, 0xbb, 0x10, 0x00, 0x00, 0x00,
        0x41, 0x89, 0xd2, 0x41, 0x83, 0xe2, 0x0f, 0x41, 0x83, 0xc2, 0x30, 0x41,
        0x83, 0xfa, 0x39, 0x76, 0x04, 0x41, 0x83, 0xc2, 0x27, 0x44, 0x88, 0x17,
        0x48, 0xff, 0xcf, 0x48, 0xc1, 0xea, 0x04, 0x41, 0xff, 0xcb, 0x75, 0xdc,
        0xc3, 0x0f, 0x1f, 0x00,
    ];

    /// <summary>The line the handler prints first, with room for the address and the offset (the offsets below are in the .S file).</summary>
    internal const string Line = "\nSlabGen sampling: invalid access at 0x0000000000000000 (object +0x0000000000000000)\n";

    private const int Sigsegv = 11;
    private const int SaSigInfo = 4;
    private const int SigactionBytes = 152;
    private const int FlagsOffset = 136;
    private const nint SigDefault = 0;
    private const nint SigIgnore = 1;

    /// <summary>Installs the handler in front of the current one for <paramref name="pool"/>; false when it cannot be (platform, or no handler to chain to).</summary>
    public static bool TryInstall(SamplePool pool)
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.ProcessArchitecture != Architecture.X64)
        {
            return false;
        }

        byte* old = stackalloc byte[SigactionBytes];
        if (sigaction(Sigsegv, null, old) != 0)
        {
            return false;
        }

        nint previous = *(nint*)old;
        if (previous is SigDefault or SigIgnore || (*(int*)(old + FlagsOffset) & SaSigInfo) == 0)
        {
            return false;
        }

        var data = (byte*)NativeMemory.AllocZeroed(160);
        *(nint*)data = (nint)pool.Base;
        *(nuint*)(data + 8) = pool.Bytes;
        *(nint*)(data + 16) = (nint)pool.Reports;
        *(nint*)(data + 24) = previous;
        *(nuint*)(data + 32) = pool.SmallBytes;
        *(nint*)(data + 40) = (nint)pool.LargeReports;
        Encoding.ASCII.GetBytes(Line, new Span<byte>(data + 48, Line.Length));

        nint code = Mman.mmap(0, PageAllocator.PageSize, Mman.ProtReadWrite, Mman.MapPrivateAnonymous, -1, 0);
        if (code == Mman.Failed)
        {
            return false;
        }

        Code.CopyTo(new Span<byte>((void*)code, Code.Length));
        *(nint*)(code + Code.Length) = (nint)data;
        if (Mman.mprotect(code, PageAllocator.PageSize, Mman.ProtReadExecute) != 0)
        {
            return false;
        }

        byte* action = stackalloc byte[SigactionBytes];
        new ReadOnlySpan<byte>(old, SigactionBytes).CopyTo(new Span<byte>(action, SigactionBytes));
        *(nint*)action = code;
        return sigaction(Sigsegv, action, null) == 0;
    }

    [LibraryImport("libc")]
    private static partial int sigaction(int signal, byte* action, byte* oldAction);
}
