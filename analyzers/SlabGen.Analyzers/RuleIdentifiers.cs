// Every SlabGen diagnostic id, in one place. SLAB0xx: [SlabCache] misuse. SLAB1xx: sleeping in interrupt context.
namespace SlabGen.Analyzers;

internal static class RuleIdentifiers
{
    public const string NotPartial = "SLAB001";
    public const string NotUnmanaged = "SLAB002";
    public const string Generic = "SLAB003";
    public const string InvalidAlign = "SLAB004";
    public const string AlignBelowNatural = "SLAB005";
    public const string SlabConstructorShape = "SLAB006";
    public const string SeveralSlabConstructors = "SLAB007";
    public const string TooLargeForSlab = "SLAB008";
    public const string InvalidName = "SLAB009";
    public const string DuplicateName = "SLAB010";
    public const string RefStruct = "SLAB011";
    public const string MemberClash = "SLAB012";
    public const string RequiredMember = "SLAB013";
    public const string FileLocal = "SLAB014";

    public const string VmallocInInterrupt = "SLAB101";
    public const string KernelFlagsInInterrupt = "SLAB102";
    public const string MaySleepCallInInterrupt = "SLAB103";
    public const string SleepingCallChainInInterrupt = "SLAB104";
    public const string BlockingCallInInterrupt = "SLAB105";
    public const string AwaitInInterrupt = "SLAB106";
    public const string ManagedAllocationInInterrupt = "SLAB107";
    public const string UnknownTargetInInterrupt = "SLAB108";
    public const string PInvokeInInterrupt = "SLAB109";
    public const string InterruptMethodOutsideScope = "SLAB110";
}
