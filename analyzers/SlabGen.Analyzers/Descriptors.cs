// Every SlabGen diagnostic: id, title, message, category, severity and help link, together.
using Microsoft.CodeAnalysis;

namespace SlabGen.Analyzers;

internal static class Descriptors
{
    /// <summary>
    /// Where the rule pages will be published, ending in '/'; empty until the project has a public home, so the help
    /// links stay empty. Each rule's page is docs/diagnostics/SLABnnn.md in the repository and in the package. A
    /// test checks that every rule has its page and that every link is this base plus the page.
    /// </summary>
    public const string HelpLinkBase = "";

    private const string Usage = "SlabGen.Usage";
    private const string InterruptContextCategory = "SlabGen.InterruptContext";

    public static readonly DiagnosticDescriptor NotPartial = Error(RuleIdentifiers.NotPartial, Usage,
        "[SlabCache] type must be partial",
        "'{0}' must be declared partial for [SlabCache] to add its cache{1}");

    public static readonly DiagnosticDescriptor NotUnmanaged = Error(RuleIdentifiers.NotUnmanaged, Usage,
        "[SlabCache] struct must be unmanaged",
        "'{0}' cannot live in a slab: field '{1}' is of reference type '{2}'");

    public static readonly DiagnosticDescriptor Generic = Error(RuleIdentifiers.Generic, Usage,
        "[SlabCache] struct must not be generic",
        "'{0}' is generic{1}: a [SlabCache] struct needs one cache, so it cannot have type parameters");

    public static readonly DiagnosticDescriptor InvalidAlign = Error(RuleIdentifiers.InvalidAlign, Usage,
        "[SlabCache] alignment must be a power of two up to the page size",
        "Align = {0} is not a power of two between 1 and 4096");

    public static readonly DiagnosticDescriptor AlignBelowNatural = Error(RuleIdentifiers.AlignBelowNatural, Usage,
        "[SlabCache] alignment is below the struct's natural alignment",
        "Align = {0} is below the natural alignment of '{1}' ({2} bytes): its fields would be misaligned");

    public static readonly DiagnosticDescriptor SlabConstructorShape = Error(RuleIdentifiers.SlabConstructorShape, Usage,
        "[SlabConstructor] must be 'static void M(ref T)'",
        "[SlabConstructor] '{0}' must be 'static void {0}(ref {1} obj)'");

    public static readonly DiagnosticDescriptor SeveralSlabConstructors = Error(RuleIdentifiers.SeveralSlabConstructors, Usage,
        "A [SlabCache] struct has at most one [SlabConstructor]",
        "'{0}' has more than one [SlabConstructor]; '{1}' is one too many");

    public static readonly DiagnosticDescriptor TooLargeForSlab = Error(RuleIdentifiers.TooLargeForSlab, Usage,
        "[SlabCache] struct is too large for a slab",
        "'{0}' takes at least {1:N0} bytes, more than the largest slab (order 10, 4 MiB): use Kmem.Vmalloc for it");

    public static readonly DiagnosticDescriptor InvalidName = Error(RuleIdentifiers.InvalidName, Usage,
        "[SlabCache] name must not be empty",
        "Name = \"\" is empty: leave Name out to use the struct's full name, or give a name for slabinfo");

    public static readonly DiagnosticDescriptor DuplicateName = Error(RuleIdentifiers.DuplicateName, Usage,
        "[SlabCache] names are unique in a compilation",
        "The cache name '{0}' is also used by '{1}': slabinfo could not tell the caches apart",
        WellKnownDiagnosticTags.CompilationEnd);

    public static readonly DiagnosticDescriptor RefStruct = Error(RuleIdentifiers.RefStruct, Usage,
        "[SlabCache] struct must not be a ref struct",
        "'{0}' is a ref struct: it can only live on the stack, not in a slab");

    public static readonly DiagnosticDescriptor MemberClash = Error(RuleIdentifiers.MemberClash, Usage,
        "[SlabCache] struct declares a member the generator adds",
        "'{0}' declares '{1}', a name [SlabCache] generates (Cache, ThisThread, Alloc, TryAlloc, New, TryNew, Free): rename it");

    public static readonly DiagnosticDescriptor RequiredMember = Error(RuleIdentifiers.RequiredMember, Usage,
        "[SlabCache] struct must not have required members",
        "'{0}' has the required member '{1}': the generated New could not create it; drop 'required' and set it through a constructor");

    public static readonly DiagnosticDescriptor FileLocal = Error(RuleIdentifiers.FileLocal, Usage,
        "[SlabCache] struct must not be file-local",
        "'{0}' is file-local{1}: the generated part, in a file of its own, would be another type; make it internal");

    public static readonly DiagnosticDescriptor VmallocInInterrupt = Error(RuleIdentifiers.VmallocInInterrupt, InterruptContextCategory,
        "Vmalloc in interrupt context",
        "'{0}' may sleep and is called in interrupt context ('{1}'): allocate before the frame, or use Kmem.Kmalloc(size, GfpFlags.Atomic) for small sizes");

    public static readonly DiagnosticDescriptor KernelFlagsInInterrupt = Error(RuleIdentifiers.KernelFlagsInInterrupt, InterruptContextCategory,
        "GfpFlags.Kernel in interrupt context",
        "'{0}' allocates with GfpFlags.Kernel{1}, which may sleep, in interrupt context ('{2}'): use GfpFlags.Atomic");

    public static readonly DiagnosticDescriptor MaySleepCallInInterrupt = Error(RuleIdentifiers.MaySleepCallInInterrupt, InterruptContextCategory,
        "[MaySleep] method called in interrupt context",
        "'{0}' is marked [MaySleep] and is called in interrupt context ('{1}')");

    public static readonly DiagnosticDescriptor SleepingCallChainInInterrupt = Error(RuleIdentifiers.SleepingCallChainInInterrupt, InterruptContextCategory,
        "A call in interrupt context reaches code that may sleep",
        "'{0}' may sleep and is called in interrupt context: {1}",
        WellKnownDiagnosticTags.CompilationEnd);

    public static readonly DiagnosticDescriptor BlockingCallInInterrupt = Error(RuleIdentifiers.BlockingCallInInterrupt, InterruptContextCategory,
        "Blocking call in interrupt context",
        "'{0}' blocks the thread and is called in interrupt context ('{1}'){2}");

    public static readonly DiagnosticDescriptor AwaitInInterrupt = Error(RuleIdentifiers.AwaitInInterrupt, InterruptContextCategory,
        "await in interrupt context",
        "'{0}' in {1}: interrupt context belongs to the thread, and the code after it may resume on another thread, outside the context; finish the interrupt-context work before awaiting");

    public static readonly DiagnosticDescriptor ManagedAllocationInInterrupt = new(RuleIdentifiers.ManagedAllocationInInterrupt,
        "Managed allocation in interrupt context",
        "{0} allocates managed memory in interrupt context, {1}: every allocation brings the next GC pause (a frame hitch) closer; allocate before the frame, or use a [SlabCache] struct or Kmalloc",
        InterruptContextCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: "Managed allocation in interrupt context.", helpLinkUri: HelpLink(RuleIdentifiers.ManagedAllocationInInterrupt),
        customTags: WellKnownDiagnosticTags.CompilationEnd);

    public static readonly DiagnosticDescriptor UnknownTargetInInterrupt = new(RuleIdentifiers.UnknownTargetInInterrupt,
        "Call through an unknown target in interrupt context",
        "'{0}' is called through {1} in interrupt context ('{2}'): the analysis cannot see which code runs; mark {3} [InterruptContext] so every implementation is checked",
        InterruptContextCategory, DiagnosticSeverity.Warning, isEnabledByDefault: false,
        description: "Call through an unknown target in interrupt context (opt-in).", helpLinkUri: HelpLink(RuleIdentifiers.UnknownTargetInInterrupt));

    public static readonly DiagnosticDescriptor PInvokeInInterrupt = new(RuleIdentifiers.PInvokeInInterrupt,
        "P/Invoke in interrupt context",
        "'{0}' calls native code in interrupt context ('{1}'), which may block (a swap-buffers that waits for vsync, a driver call); mark it [SuppressGCTransition] if it is short and never blocks",
        InterruptContextCategory, DiagnosticSeverity.Warning, isEnabledByDefault: false,
        description: "P/Invoke in interrupt context (opt-in).", helpLinkUri: HelpLink(RuleIdentifiers.PInvokeInInterrupt));

    private static DiagnosticDescriptor Error(string id, string category, string title, string message, params string[] tags) => new(
        id, title, message, category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: title + ".", helpLinkUri: HelpLink(id), customTags: tags);

    /// <summary>The help link of a rule: empty while <see cref="HelpLinkBase"/> is.</summary>
    public static string HelpLink(string id) => HelpLinkBase.Length == 0 ? string.Empty : HelpLinkBase + id + ".md";
}
