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
        "'{0}' must be declared partial for [SlabCache] to add its cache{1}",
        "The generator adds Cache, Alloc, New and Free to a [SlabCache] struct in a second part of its declaration, and C# joins the parts only when every declaration involved says 'partial', the types around the struct included. Without it the generator emits nothing and calls such as Particle.New(...) fail far from the cause. Add 'partial' to the struct and to every type around it; the code fix does both.");

    public static readonly DiagnosticDescriptor NotUnmanaged = Error(RuleIdentifiers.NotUnmanaged, Usage,
        "[SlabCache] struct must be unmanaged",
        "'{0}' cannot live in a slab: field '{1}' is of reference type '{2}'",
        "Slab objects live in native memory that the garbage collector does not scan: a reference stored there would not keep its object alive, nor be updated when the object moves. Each field of reference type (a class, string, array or interface, directly or in a nested struct) is reported. Keep only unmanaged data in the struct; refer to managed objects by an index into a managed table.");

    public static readonly DiagnosticDescriptor Generic = Error(RuleIdentifiers.Generic, Usage,
        "[SlabCache] struct must not be generic",
        "'{0}' is generic{1}: a [SlabCache] struct needs one cache, so it cannot have type parameters",
        "A [SlabCache] struct gets exactly one cache, created once for the type, but a generic struct is one type per type argument, which the generator cannot know. Declare one non-generic struct per cache, or create a KmemCache<T> for each instantiation you need.");

    public static readonly DiagnosticDescriptor InvalidAlign = Error(RuleIdentifiers.InvalidAlign, Usage,
        "[SlabCache] alignment must be a power of two up to the page size",
        "Align = {0} is not a power of two between 1 and 4096",
        "Slab objects are placed at multiples of the alignment inside 4096-byte pages: only a power of two divides the page evenly, and nothing larger than a page can be guaranteed inside one. Use a power of two up to 4096, or leave Align out.");

    public static readonly DiagnosticDescriptor AlignBelowNatural = Error(RuleIdentifiers.AlignBelowNatural, Usage,
        "[SlabCache] alignment is below the struct's natural alignment",
        "Align = {0} is below the natural alignment of '{1}' ({2} bytes): its fields would be misaligned",
        "Objects at an alignment below what the struct's fields need would have misaligned fields: slower on x64, and atomic operations on them fault on some ARM targets. Raise Align to at least the natural alignment the message gives, or leave Align out.");

    public static readonly DiagnosticDescriptor SlabConstructorShape = Error(RuleIdentifiers.SlabConstructorShape, Usage,
        "[SlabConstructor] must be 'static void M(ref T)'",
        "[SlabConstructor] '{0}' must be 'static void {0}(ref {1} obj)'",
        "The slab constructor runs on each object in place when its slab is populated, so it takes the object by reference, returns nothing and has no instance to run on. Give it the shape 'static void Init(ref T obj)'.");

    public static readonly DiagnosticDescriptor SeveralSlabConstructors = Error(RuleIdentifiers.SeveralSlabConstructors, Usage,
        "A [SlabCache] struct has at most one [SlabConstructor]",
        "'{0}' has more than one [SlabConstructor]; '{1}' is one too many",
        "A cache has one constructor, as kmem_cache_create takes one; running several in an unspecified order would leave the constructed state ambiguous. Merge them into one, or call the others from it.");

    public static readonly DiagnosticDescriptor TooLargeForSlab = Error(RuleIdentifiers.TooLargeForSlab, Usage,
        "[SlabCache] struct is too large for a slab",
        "'{0}' takes at least {1:N0} bytes, more than the largest slab (order 10, 4 MiB): use Kmem.Vmalloc for it",
        "A slab must hold at least one object and is at most 1,024 pages (4 MiB), so the cache could not be created and the type's static initializer would throw. Allocate such a buffer with Kmem.Vmalloc outside interrupt context, or split the struct and keep a pointer to the large part.");

    public static readonly DiagnosticDescriptor InvalidName = Error(RuleIdentifiers.InvalidName, Usage,
        "[SlabCache] name must not be empty",
        "Name = \"\" is empty: leave Name out to use the struct's full name, or give a name for slabinfo",
        "The name is how the cache appears in slabinfo, slabtop and error messages, and KmemCache.Create refuses an empty one. Leave Name out to use the struct's full name, or give a meaningful one.");

    public static readonly DiagnosticDescriptor DuplicateName = Error(RuleIdentifiers.DuplicateName, Usage,
        "[SlabCache] names are unique in a compilation",
        "The cache name '{0}' is also used by '{1}': slabinfo could not tell the caches apart",
        "slabinfo, slabtop and leak reports list caches by name, so two caches with one name cannot be told apart. A default name is the type's full name and never collides with another default; give one of the two a distinct Name.",
        WellKnownDiagnosticTags.CompilationEnd);

    public static readonly DiagnosticDescriptor RefStruct = Error(RuleIdentifiers.RefStruct, Usage,
        "[SlabCache] struct must not be a ref struct",
        "'{0}' is a ref struct: it can only live on the stack, not in a slab",
        "A ref struct can only live on the stack and cannot be a type argument of KmemCache<T>, so it cannot live in a slab. Remove 'ref', and replace fields such as Span<T> with a pointer and a length.");

    public static readonly DiagnosticDescriptor MemberClash = Error(RuleIdentifiers.MemberClash, Usage,
        "[SlabCache] struct declares a member the generator adds",
        "'{0}' declares '{1}', a name [SlabCache] generates (Cache, ThisThread, Alloc, TryAlloc, New, TryNew, Free): rename it",
        "The generator adds Cache, ThisThread, Alloc, TryAlloc, New, TryNew and Free to the struct; a member of one of these names would clash with generated code (CS0102, CS0111) or capture its calls, so the generator emits nothing for the struct. Rename the member, for example Free to Release.");

    public static readonly DiagnosticDescriptor RequiredMember = Error(RuleIdentifiers.RequiredMember, Usage,
        "[SlabCache] struct must not have required members",
        "'{0}' has the required member '{1}': the generated New could not create it; drop 'required' and set it through a constructor",
        "The generated New and TryNew create the value with new T(...) and cannot set required members for you (CS9035), so the generator emits nothing for the struct. Drop 'required' and take the value through a constructor, which becomes a New overload.");

    public static readonly DiagnosticDescriptor FileLocal = Error(RuleIdentifiers.FileLocal, Usage,
        "[SlabCache] struct must not be file-local",
        "'{0}' is file-local{1}: the generated part, in a file of its own, would be another type; make it internal",
        "A file-local type is visible in its own file only, and the generator's part of the struct lives in a file of its own, where it would declare a different type, so the generator emits nothing for the struct. Make the struct internal, or private inside a type of the file.");

    public static readonly DiagnosticDescriptor VmallocInInterrupt = Error(RuleIdentifiers.VmallocInInterrupt, InterruptContextCategory,
        "Vmalloc in interrupt context",
        "'{0}' may sleep and is called in interrupt context ('{1}'): allocate before the frame, or use Kmem.Kmalloc(size, GfpFlags.Atomic) for small sizes",
        "Interrupt context is code that must not wait: an [InterruptContext] method or type (a frame loop, an audio callback, a hot request path) and the lambdas and local functions inside it. Vmalloc takes memory from the OS and may sleep, which is a hitch there; inside InterruptContext.Enter() the same call throws at run time. Allocate before the frame, or use Kmem.Kmalloc(size, GfpFlags.Atomic) for a small buffer; the code fix does that for a constant size up to 8 KiB.");

    public static readonly DiagnosticDescriptor KernelFlagsInInterrupt = Error(RuleIdentifiers.KernelFlagsInInterrupt, InterruptContextCategory,
        "GfpFlags.Kernel in interrupt context",
        "'{0}' allocates with {1}, which may sleep, in interrupt context ('{2}'): use GfpFlags.Atomic",
        "GfpFlags.Kernel, and any flags without GfpFlags.Atomic (GfpFlags.Zero alone and GfpFlags.None mean Kernel too, as does a left-out flags argument), may grow the allocator from the OS, which may sleep: a hitch in interrupt context. GfpFlags.Atomic uses memory already there and fails fast. Pass GfpFlags.Atomic and handle a null return (or OutOfMemoryException from a generated New); the code fix changes the flags.");

    public static readonly DiagnosticDescriptor MaySleepCallInInterrupt = Error(RuleIdentifiers.MaySleepCallInInterrupt, InterruptContextCategory,
        "[MaySleep] method called in interrupt context",
        "'{0}' is marked [MaySleep] and is called in interrupt context ('{1}')",
        "[MaySleep] is how a library says a method may block; calling it where sleeping is forbidden is the bug the kernel's might_sleep() catches. Move the call out of the interrupt-context code, do the work earlier or on another thread, or call a non-blocking alternative.");

    public static readonly DiagnosticDescriptor SleepingCallChainInInterrupt = Error(RuleIdentifiers.SleepingCallChainInInterrupt, InterruptContextCategory,
        "A call in interrupt context reaches code that may sleep",
        "'{0}' may sleep and is called in interrupt context: {1}",
        "Whether code sleeps is a property of everything it calls: a method of this compilation called in interrupt context reaches, through a chain of calls however deep, something another SLAB1xx rule flags, and the message gives the chain. Fix the end of the chain (GfpFlags.Atomic, allocate earlier) or stop calling that path from interrupt context.",
        WellKnownDiagnosticTags.CompilationEnd);

    public static readonly DiagnosticDescriptor BlockingCallInInterrupt = Error(RuleIdentifiers.BlockingCallInInterrupt, InterruptContextCategory,
        "Blocking call in interrupt context",
        "'{0}' blocks the thread and is called in interrupt context ('{1}'){2}",
        "Sleeps, joins, locks, waits on tasks and wait handles, Parallel loops, file I/O and synchronous stream I/O can park the thread for an unbounded time: a frame hitch or a latency spike on a hot request path. Do the work outside the interrupt-context code, or use an asynchronous form in code that may await.");

    public static readonly DiagnosticDescriptor AwaitInInterrupt = Error(RuleIdentifiers.AwaitInInterrupt, InterruptContextCategory,
        "await in interrupt context",
        "'{0}' in {1}: interrupt context belongs to the thread, and the code after it may resume on another thread, outside the context; finish the interrupt-context work before awaiting",
        "Interrupt context belongs to a thread and never flows across an await: the method may resume on another thread, outside the context, so the checks stop protecting the code that follows, and an Enter() scope would be disposed on a thread that never entered it. Finish the interrupt-context work before awaiting, and await outside the scope.");

    public static readonly DiagnosticDescriptor ManagedAllocationInInterrupt = new(RuleIdentifiers.ManagedAllocationInInterrupt,
        "Managed allocation in interrupt context",
        "{0} allocates managed memory in interrupt context, {1}: every allocation brings the next GC pause (a frame hitch) closer; allocate before the frame, or use a [SlabCache] struct or Kmalloc" + PageNote(RuleIdentifiers.ManagedAllocationInInterrupt),
        InterruptContextCategory, DiagnosticSeverity.Warning, isEnabledByDefault: true,
        description: Describe(RuleIdentifiers.ManagedAllocationInInterrupt, "A game's frame hitch is usually a GC pause, and every managed allocation in the frame brings the next collection closer; a frame that allocates nothing never triggers one. The message gives the allocation or the chain of calls that reaches it. Allocate before the frame and reuse, keep per-frame objects in a [SlabCache] struct or in Kmalloc(size, GfpFlags.Atomic) memory, and make lambdas static."), helpLinkUri: HelpLink(RuleIdentifiers.ManagedAllocationInInterrupt),
        customTags: WellKnownDiagnosticTags.CompilationEnd);

    public static readonly DiagnosticDescriptor UnknownTargetInInterrupt = new(RuleIdentifiers.UnknownTargetInInterrupt,
        "Call through an unknown target in interrupt context",
        "'{0}' is called through {1} in interrupt context ('{2}'): the analysis cannot see which code runs; mark {3} [InterruptContext] so every implementation is checked" + PageNote(RuleIdentifiers.UnknownTargetInInterrupt),
        InterruptContextCategory, DiagnosticSeverity.Warning, isEnabledByDefault: false,
        description: Describe(RuleIdentifiers.UnknownTargetInInterrupt, "Through an interface, a virtual method or a delegate, the code that runs is chosen at run time, so a plugin or callback that sleeps would pass the analysis unnoticed. Put [InterruptContext] on the interface, virtual method or delegate type: every implementation is then analysed in interrupt context and calls through it are fine. Off by default."), helpLinkUri: HelpLink(RuleIdentifiers.UnknownTargetInInterrupt));

    public static readonly DiagnosticDescriptor PInvokeInInterrupt = new(RuleIdentifiers.PInvokeInInterrupt,
        "P/Invoke in interrupt context",
        "'{0}' calls native code in interrupt context ('{1}'), which may block (a swap-buffers that waits for vsync, a driver call); mark it [SuppressGCTransition] if it is short and never blocks" + PageNote(RuleIdentifiers.PInvokeInInterrupt),
        InterruptContextCategory, DiagnosticSeverity.Warning, isEnabledByDefault: false,
        description: Describe(RuleIdentifiers.PInvokeInInterrupt, "Native code is opaque to the analysis and much of it waits (a swap-buffers that blocks until vsync, an audio driver call, file or socket I/O), and a P/Invoke switches the thread's GC mode. Move the call out of the frame, or mark a short call that never blocks [SuppressGCTransition]. Off by default."), helpLinkUri: HelpLink(RuleIdentifiers.PInvokeInInterrupt));

    public static readonly DiagnosticDescriptor InterruptMethodOutsideScope = new(RuleIdentifiers.InterruptMethodOutsideScope,
        "Interrupt-context method called outside a run-time scope",
        "'{0}' is [InterruptContext] but '{1}' calls it outside interrupt context and outside an InterruptContext.Enter() scope: the run-time check does not cover this call; wrap it in using (InterruptContext.Enter())" + PageNote(RuleIdentifiers.InterruptMethodOutsideScope),
        InterruptContextCategory, DiagnosticSeverity.Warning, isEnabledByDefault: false,
        description: Describe(RuleIdentifiers.InterruptMethodOutsideScope, "[InterruptContext] is checked at compile time only; at run time only an InterruptContext.Enter() scope makes GfpFlags.Kernel, Vmalloc and [MaySleep] calls throw. An entry point (a frame, an audio callback) called from ordinary code without a scope has the compile-time check but not the run-time one, so code the analysis cannot see (a delegate, a plugin) may sleep unnoticed. Call it inside using (InterruptContext.Enter()). Off by default: turn it on to keep attribute and scope in step."), helpLinkUri: HelpLink(RuleIdentifiers.InterruptMethodOutsideScope));

    private static DiagnosticDescriptor Error(string id, string category, string title, string message, string description, params string[] tags) => new(
        id, title, message + PageNote(id), category, DiagnosticSeverity.Error, isEnabledByDefault: true,
        description: Describe(id, description), helpLinkUri: HelpLink(id), customTags: tags);

    /// <summary>Where a rule's full page is: it ships in the package (there is no web address to link to yet).</summary>
    public static string PagePath(string id) => $"docs/diagnostics/{id}.md in the SlabGen package";

    /// <summary>The end of every message: where the rule's page is.</summary>
    private static string PageNote(string id) => $" (rule page: {PagePath(id)})";

    /// <summary>A rule's description, as an IDE's tooltip shows it: what, why and how to fix, then the page.</summary>
    private static string Describe(string id, string description) => $"{description} The full page, with examples and how to suppress: {PagePath(id)}.";

    /// <summary>The help link of a rule: empty while <see cref="HelpLinkBase"/> is.</summary>
    public static string HelpLink(string id) => HelpLinkBase.Length == 0 ? string.Empty : HelpLinkBase + id + ".md";
}
