// The checked path of debug caches (SLUB's alloc_debug_processing / free_debug_processing): every operation
// takes the cache lock and checks the object's trailer. Values are the kernel's (include/linux/poison.h).
using System.Diagnostics;
using System.Runtime.InteropServices;

namespace SlabGen;

public sealed unsafe partial class KmemCache
{
    private const byte PoisonFree = 0x6b;
    private const byte PoisonEnd = 0xa5;
    private const byte RedActive = 0xcc;
    private const byte RedInactive = 0xbb;
    private const ulong StateAllocated = 0xa110_c8ed_a110_c8ed;
    private const ulong StateFree = 0xf4ee_f4ee_f4ee_f4ee;

    /// <summary>Where each live object was allocated (StoreUser), guarded by the cache lock.</summary>
    private readonly Dictionary<nint, string>? _allocationSites;

    /// <summary>Prepares an object of a new slab: constructed, or poisoned with its red zone and state free.</summary>
    private void InitObject(byte* obj)
    {
        if (_debug)
        {
            if ((Flags & SlabFlags.Poison) != 0)
            {
                Poison(obj);
            }

            if ((Flags & SlabFlags.RedZone) != 0)
            {
                NativeMemory.Fill(obj + _layout.RedZoneOffset, SlabLayout.RedZoneBytes, RedInactive);
            }

            *(ulong*)(obj + _layout.StateOffset) = StateFree;
        }

        // A poisoned object is constructed when it is handed out, since poisoning destroys the constructed state.
        if (_ctor != null && (Flags & SlabFlags.Poison) == 0)
        {
            _ctor(obj);
        }
    }

    private void* AllocDebug(GfpFlags flags)
    {
        string? site = _allocationSites is null ? null : AllocationSite.Capture();
        nint obj = 0;
        while (true)
        {
            lock (_lock)
            {
                if (TakeObjects(new Span<nint>(ref obj)) == 1)
                {
                    Activate((byte*)obj, site);
                    break;
                }
            }

            if (!Grow(flags))
            {
                return null;
            }
        }

        if (_ctor != null && (Flags & SlabFlags.Poison) != 0)
        {
            try
            {
                _ctor((void*)obj);
            }
            catch
            {
                // The object never reached the caller: it goes back free (and poisoned again) before the exception does.
                FreeDebug((void*)obj, PageAllocator.HeadFrameOf((void*)obj));
                throw;
            }
        }

        return (void*)obj;
    }

    /// <summary>Checks a free object just taken off its slab and marks it allocated. Under the cache lock.</summary>
    private void Activate(byte* obj, string? site)
    {
        if ((Flags & SlabFlags.Poison) != 0)
        {
            int bad = FindPoisonViolation(obj);
            if (bad >= 0)
            {
                byte found = obj[bad];
                Poison(obj);
                PutObject(PageAllocator.HeadFrameOf(obj), obj);
                throw new InvalidOperationException(
                    $"kmem_cache_alloc({Name}): use after free: byte {bad} of free object 0x{(nuint)obj:x} was 0x{found:x2}, " +
                    $"expected 0x{(bad == (int)_layout.Size - 1 ? PoisonEnd : PoisonFree):x2}. The object was poisoned again and stays free.");
            }
        }

        if ((Flags & SlabFlags.RedZone) != 0)
        {
            NativeMemory.Fill(obj + _layout.RedZoneOffset, SlabLayout.RedZoneBytes, RedActive);
        }

        *(ulong*)(obj + _layout.StateOffset) = StateAllocated;
        if (site is not null)
        {
            _allocationSites![(nint)obj] = site;
        }
    }

    private void FreeDebug(void* obj, PageFrame* slab)
    {
        var bytes = (byte*)obj;
        string? overflow = null;
        lock (_lock)
        {
            ulong state = *(ulong*)(bytes + _layout.StateOffset);
            if (state == StateFree)
            {
                ThrowFreeError(obj, "double free: the object is already free");
            }

            if (state != StateAllocated)
            {
                ThrowFreeError(obj, $"corrupted object: its state word is 0x{state:x16}, neither allocated nor free");
            }

            if ((Flags & SlabFlags.RedZone) != 0)
            {
                var redZone = new Span<byte>(bytes + _layout.RedZoneOffset, (int)SlabLayout.RedZoneBytes);
                int bad = redZone.IndexOfAnyExcept(RedActive);
                if (bad >= 0)
                {
                    overflow = $"kmem_cache_free({Name}, 0x{(nuint)obj:x}): red zone overwritten: byte {bad} past the end of the " +
                        $"{_layout.Size}-byte object was 0x{redZone[bad]:x2}, expected 0x{RedActive:x2} (a buffer overflow). The object was freed.";
                }

                redZone.Fill(RedInactive);
            }

            _allocationSites?.Remove((nint)obj);
            if ((Flags & SlabFlags.Poison) != 0)
            {
                Poison(bytes);
            }

            *(ulong*)(bytes + _layout.StateOffset) = StateFree;
            PutObject(slab, bytes);
        }

        if (overflow is not null)
        {
            throw new InvalidOperationException(overflow);
        }
    }

    private void Poison(byte* obj)
    {
        NativeMemory.Fill(obj, _layout.Size - 1, PoisonFree);
        obj[_layout.Size - 1] = PoisonEnd;
    }

    private int FindPoisonViolation(byte* obj)
    {
        int body = new ReadOnlySpan<byte>(obj, (int)_layout.Size - 1).IndexOfAnyExcept(PoisonFree);
        return body >= 0 ? body : obj[_layout.Size - 1] == PoisonEnd ? -1 : (int)_layout.Size - 1;
    }

    private string LeakReport(long live)
    {
        string report = $"kmem_cache_destroy {Name}: Slab cache still has objects: {live} objects remaining.";
        if (_allocationSites is null)
        {
            return report + " Create the cache with SlabFlags.StoreUser to see where they were allocated.";
        }

        IEnumerable<string> sites = _allocationSites.Values
            .GroupBy(site => site)
            .OrderByDescending(group => group.Count())
            .Select(group => $"\n  {group.Count()} allocated at {group.Key}");
        return report + string.Concat(sites);
    }
}

/// <summary>The caller of a SlabGen allocation, for StoreUser: the first frame outside SlabGen.</summary>
internal static class AllocationSite
{
    public static string Capture()
    {
        foreach (StackFrame frame in new StackTrace(1, fNeedFileInfo: true).GetFrames())
        {
            DiagnosticMethodInfo? method = DiagnosticMethodInfo.Create(frame);
            if (method is null || method.DeclaringAssemblyName.StartsWith("SlabGen,", StringComparison.Ordinal))
            {
                continue;
            }

            string name = $"{method.DeclaringTypeName}.{method.Name}";
            string? file = frame.GetFileName();
            return file is null ? name : $"{Path.GetFileName(file)}:{frame.GetFileLineNumber()} ({name})";
        }

        return "an unknown site";
    }
}
