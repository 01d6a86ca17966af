// vmalloc (mm/vmalloc.c): large, page-granular memory straight from the OS, outside the buddy arenas, every
// live area tracked for VmallocInfo. Taking memory from the OS may sleep, so these calls are refused in
// interrupt context; Vfree there is deferred to the next vmalloc-family call outside it (the kernel's
// vfree_atomic / deferred free list).
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;

namespace SlabGen;

public static unsafe partial class Kmem
{
    private static readonly Lock s_vmapLock = new();
    private static readonly SortedDictionary<nuint, VmArea> s_vmap = [];
    private static readonly List<nuint> s_deferredFrees = [];

    /// <summary>
    /// Allocates <paramref name="size"/> bytes, rounded up to whole pages, straight from the OS (<c>vmalloc</c>).
    /// May sleep: refused in interrupt context.
    /// </summary>
    /// <param name="size">The bytes wanted.</param>
    /// <param name="caller">Filled in by the compiler; shown by <see cref="VmallocInfo"/>.</param>
    /// <param name="file">Filled in by the compiler.</param>
    /// <param name="line">Filled in by the compiler.</param>
    /// <returns>Page-aligned memory, or <see langword="null"/> for a size of 0 or when the OS refuses.</returns>
    /// <exception cref="InvalidOperationException">In interrupt context.</exception>
    [MaySleep]
    public static void* Vmalloc(nuint size, [CallerMemberName] string caller = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        InterruptContext.MightSleep("vmalloc", InterruptContext.VmallocAdvice);
        KmemMetrics.EnsureRegistered();
        FreeDeferred();
        nuint bytes = (size + PageAllocator.PageSize - 1) & ~(nuint)(PageAllocator.PageSize - 1);
        if (size == 0 || bytes < size)
        {
            return null;
        }

        void* area;
        try
        {
            area = NativeMemory.AlignedAlloc(bytes, PageAllocator.PageSize);
        }
        catch (OutOfMemoryException)
        {
            return null;
        }

        lock (s_vmapLock)
        {
            s_vmap.Add((nuint)area, new VmArea(bytes, $"{caller}+{Path.GetFileName(file)}:{line}"));
        }

        return area;
    }

    /// <summary>Allocates zeroed, page-granular memory from the OS (<c>vzalloc</c>). May sleep.</summary>
    /// <inheritdoc cref="Vmalloc" path="/param"/>
    /// <exception cref="InvalidOperationException">In interrupt context.</exception>
    [MaySleep]
    public static void* Vzalloc(nuint size, [CallerMemberName] string caller = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        void* area = Vmalloc(size, caller, file, line);
        if (area != null)
        {
            NativeMemory.Clear(area, size);
        }

        return area;
    }

    /// <summary>
    /// Frees memory from <see cref="Vmalloc"/> (<c>vfree</c>). <see langword="null"/> does nothing. In interrupt
    /// context the area is queued and given back to the OS by the next vmalloc-family call outside it.
    /// </summary>
    /// <param name="area">The area, as <see cref="Vmalloc"/> or <see cref="Vzalloc"/> returned it, or <see langword="null"/>.</param>
    /// <exception cref="ArgumentException">The pointer is not a live vmalloc area (or is already freed). Nothing is changed.</exception>
    public static void Vfree(void* area)
    {
        if (area == null)
        {
            return;
        }

        bool defer = InterruptContext.IsActive;
        lock (s_vmapLock)
        {
            if (!s_vmap.Remove((nuint)area))
            {
                throw new ArgumentException(
                    $"vfree(0x{(nuint)area:x}): not a live vmalloc area: never allocated by Vmalloc, not its start, or already freed.", nameof(area));
            }

            if (defer)
            {
                s_deferredFrees.Add((nuint)area);
                return;
            }
        }

        NativeMemory.AlignedFree(area);
        FreeDeferred();
    }

    /// <summary>
    /// Allocates with <see cref="Kmalloc"/> and falls back to <see cref="Vmalloc"/> when that fails or the size is
    /// above 4 MiB (<c>kvmalloc</c>). May sleep: refused in interrupt context. Free with <see cref="Kvfree"/>.
    /// </summary>
    /// <param name="size">How many bytes.</param>
    /// <param name="flags">As for <see cref="Kmalloc"/>; <see cref="GfpFlags.Atomic"/> never falls back to vmalloc.</param>
    /// <param name="caller">The calling member, filled in by the compiler, for <see cref="VmallocInfo"/>.</param>
    /// <param name="file">The calling file, filled in by the compiler.</param>
    /// <param name="line">The calling line, filled in by the compiler.</param>
    /// <returns>The memory, or <see langword="null"/> when neither allocator could serve it.</returns>
    /// <exception cref="InvalidOperationException">In interrupt context.</exception>
    [MaySleep]
    public static void* Kvmalloc(nuint size, GfpFlags flags = GfpFlags.Kernel,
        [CallerMemberName] string caller = "", [CallerFilePath] string file = "", [CallerLineNumber] int line = 0)
    {
        InterruptContext.MightSleep("kvmalloc", InterruptContext.VmallocAdvice);
        FreeDeferred();
        void* memory = Kmalloc(size, flags | GfpFlags.NoWarn);
        if (memory != null || !Gfp.MaySleep(flags))
        {
            return memory;
        }

        return (flags & GfpFlags.Zero) != 0 ? Vzalloc(size, caller, file, line) : Vmalloc(size, caller, file, line);
    }

    /// <summary>Frees memory from <see cref="Kvmalloc"/> (<c>kvfree</c>), whichever allocator served it.</summary>
    /// <param name="memory">The memory, as <see cref="Kvmalloc"/> returned it.</param>
    /// <exception cref="ArgumentException">The pointer is neither a kmalloc allocation nor a vmalloc area.</exception>
    public static void Kvfree(void* memory)
    {
        if (PageAllocator.HeadFrameOf(memory) != null)
        {
            Kfree(memory);
        }
        else
        {
            Vfree(memory);
        }
    }

    /// <summary>
    /// The live vmalloc areas, one line each in address order, like <c>/proc/vmallocinfo</c>:
    /// <c>0xstart-0xend size caller pages=n vmalloc</c>.
    /// </summary>
    /// <returns>The report, empty when no area is live.</returns>
    public static string VmallocInfo()
    {
        var info = new StringBuilder();
        lock (s_vmapLock)
        {
            foreach ((nuint start, VmArea area) in s_vmap)
            {
                info.Append(CultureInfo.InvariantCulture,
                    $"0x{start:x16}-0x{start + area.Size:x16} {area.Size,7} {area.Caller} pages={area.Size / PageAllocator.PageSize} vmalloc\n");
            }
        }

        return info.ToString();
    }

    /// <summary>How many vmalloc areas are live and their bytes (what /proc/meminfo's VmallocUsed sums).</summary>
    internal static (long Areas, long Bytes) VmallocTotals()
    {
        lock (s_vmapLock)
        {
            long bytes = 0;
            foreach (VmArea area in s_vmap.Values)
            {
                bytes += (long)area.Size;
            }

            return (s_vmap.Count, bytes);
        }
    }

    /// <summary>Gives the OS the areas freed in interrupt context, unless the caller is in interrupt context too.</summary>
    private static void FreeDeferred()
    {
        if (InterruptContext.IsActive)
        {
            return;
        }

        nuint[] deferred;
        lock (s_vmapLock)
        {
            if (s_deferredFrees.Count == 0)
            {
                return;
            }

            deferred = [.. s_deferredFrees];
            s_deferredFrees.Clear();
        }

        foreach (nuint area in deferred)
        {
            NativeMemory.AlignedFree((void*)area);
        }
    }

    /// <summary>How many areas freed in interrupt context still wait to go back to the OS.</summary>
    internal static int DeferredFreeCount
    {
        get
        {
            lock (s_vmapLock)
            {
                return s_deferredFrees.Count;
            }
        }
    }

    private readonly record struct VmArea(nuint Size, string Caller);
}
