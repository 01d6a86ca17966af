// Where the caches of [SlabCache] structs take their slabs from: PageAllocator.Shared unless the program says
// otherwise, per struct or per assembly, before the struct's cache is made (its first use). A cache lives as long as
// the process and never moves to another allocator, so a setting made too late is refused rather than ignored.
using System.Reflection;

namespace SlabGen;

/// <summary>
/// The page allocator of the caches that <see cref="SlabCacheAttribute"/> structs get: a budget for a game's particle
/// system, a bound on a server's request objects. Set it before the struct is first used.
/// </summary>
public static class SlabCaches
{
    private static readonly Lock s_lock = new();
    private static readonly Dictionary<Type, PageAllocator> s_byType = [];
    private static readonly Dictionary<Assembly, PageAllocator> s_byAssembly = [];

    /// <summary>The structs whose cache exists, for the refusals.</summary>
    private static readonly List<Type> s_created = [];

    /// <summary>
    /// Makes the cache of <typeparamref name="T"/> take its slabs from <paramref name="pages"/> (a capped allocator
    /// is a budget), in place of the assembly's setting or <see cref="PageAllocator.Shared"/>.
    /// </summary>
    /// <typeparam name="T">A <see cref="SlabCacheAttribute"/> struct whose cache does not exist yet.</typeparam>
    /// <param name="pages">The allocator; it must outlive the cache, which lives as long as the process.</param>
    /// <exception cref="ArgumentNullException"><paramref name="pages"/> is null.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="pages"/> was disposed.</exception>
    /// <exception cref="InvalidOperationException">The cache of <typeparamref name="T"/> exists already: its struct was used.</exception>
    public static void UsePages<T>(PageAllocator pages)
        where T : unmanaged
    {
        Check(pages);
        lock (s_lock)
        {
            if (s_created.Contains(typeof(T)))
            {
                throw new InvalidOperationException($"The cache of {typeof(T).Name} exists already and keeps its page allocator: call UsePages before the struct's first use (at startup).");
            }

            s_byType[typeof(T)] = pages;
        }
    }

    /// <summary>
    /// Makes the caches of every <see cref="SlabCacheAttribute"/> struct of <paramref name="assembly"/> take their
    /// slabs from <paramref name="pages"/>, unless <see cref="UsePages{T}"/> names another allocator for a struct.
    /// </summary>
    /// <param name="assembly">The assembly, for example <c>typeof(Particle).Assembly</c>.</param>
    /// <param name="pages">The allocator; it must outlive the caches, which live as long as the process.</param>
    /// <exception cref="ArgumentNullException">An argument is null.</exception>
    /// <exception cref="ObjectDisposedException"><paramref name="pages"/> was disposed.</exception>
    /// <exception cref="InvalidOperationException">A cache of a struct of the assembly exists already (the message names them).</exception>
    public static void UsePages(Assembly assembly, PageAllocator pages)
    {
        ArgumentNullException.ThrowIfNull(assembly);
        Check(pages);
        lock (s_lock)
        {
            string[] existing = [.. s_created.Where(t => t.Assembly == assembly).Select(static t => t.Name)];
            if (existing.Length != 0)
            {
                throw new InvalidOperationException($"The caches of {string.Join(", ", existing)} in {assembly.GetName().Name} exist already and keep their page allocator: call UsePages before any of the assembly's [SlabCache] structs is used.");
            }

            s_byAssembly[assembly] = pages;
        }
    }

    /// <summary>The page allocator a cache of <paramref name="type"/> made now would use.</summary>
    /// <param name="type">A struct type.</param>
    /// <returns>The struct's setting, else its assembly's, else <see cref="PageAllocator.Shared"/>.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="type"/> is null.</exception>
    public static PageAllocator PagesFor(Type type)
    {
        ArgumentNullException.ThrowIfNull(type);
        lock (s_lock)
        {
            return Choose(type);
        }
    }

    /// <summary>Records that the cache of <paramref name="type"/> was made over the allocator <see cref="PagesFor"/> gave.</summary>
    internal static PageAllocator TakeFor(Type type)
    {
        lock (s_lock)
        {
            s_created.Add(type);
            return Choose(type);
        }
    }

    /// <summary>The struct's setting, else its assembly's, else <see cref="PageAllocator.Shared"/>. Under <see cref="s_lock"/>.</summary>
    private static PageAllocator Choose(Type type) =>
        s_byType.GetValueOrDefault(type) ?? s_byAssembly.GetValueOrDefault(type.Assembly) ?? PageAllocator.Shared;

    private static void Check(PageAllocator pages)
    {
        ArgumentNullException.ThrowIfNull(pages);
        ObjectDisposedException.ThrowIf(pages.Id < 0, pages);
    }
}
