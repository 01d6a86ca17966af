// The checked path of debug caches (SLUB's alloc_debug_processing / free_debug_processing): every operation
// takes the cache lock and checks the object's poison and red zones. Values are the kernel's (include/linux/poison.h).
// Whether an object is allocated is kept outside the slab (_live), so a stray write can be reported but can never
// make an object unfreeable. Red zones are byte-exact on both sides (SlabLayout.cs); for kmalloc the bytes between
// the size asked for and the class size are red zone too, as SLUB's kmalloc redzone (orig_size). Under RedZone the rest
// of each slot, past the free pointer, is filled with 0x5a and checked on free and allocation (SLUB's check_pad_bytes).
using System.Runtime.InteropServices;

namespace SlabGen;

public sealed unsafe partial class KmemCache
{
    private const byte PoisonFree = 0x6b;
    private const byte PoisonEnd = 0xa5;
    private const byte RedActive = 0xcc;
    private const byte RedInactive = 0xbb;
    private const byte PadPoison = 0x5a; // SLUB's POISON_INUSE, which check_pad_bytes expects in a slot's padding

    /// <summary>Prepares an object of a new slab: constructed, or poisoned with its red zones inactive.</summary>
    private void InitObject(byte* obj)
    {
        if (_debug)
        {
            if ((Flags & SlabFlags.Poison) != 0)
            {
                Poison(obj);
            }

            FillZones(obj, (int)_layout.Size, RedInactive);
            FillPadding(obj);
        }

        // A poisoned object is constructed when it is handed out, since poisoning destroys the constructed state.
        if (_ctor != null && (Flags & SlabFlags.Poison) == 0)
        {
            _ctor(obj);
        }
    }

    /// <summary>A debug allocation of <paramref name="requested"/> bytes (kmalloc's size, else the object size): the bytes past it are red zone too.</summary>
    private void* AllocDebug(GfpFlags flags, int requested)
    {
        string? site = _allocationSites is null ? null : AllocationSite.Capture();
        nint obj = 0;
        while (true)
        {
            string? corruption;
            lock (_node.Lock)
            {
                int taken = TakeObjects(new Span<nint>(ref obj));
                corruption = _freelistCorruption;
                _freelistCorruption = null;
                if (taken == 1)
                {
                    Activate((byte*)obj, requested, site);
                }
            }

            if (corruption is not null)
            {
                if (obj != 0)
                {
                    FreeDebug((void*)obj, PageAllocator.HeadFrameOf((void*)obj));
                }

                throw new InvalidOperationException(corruption);
            }

            if (obj != 0)
            {
                break;
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
    private void Activate(byte* obj, int requested, string? site)
    {
        string? problem = null;
        if ((Flags & SlabFlags.Poison) != 0 && FindPoisonViolation(obj) is var bad and >= 0)
        {
            problem = $"use after free: byte {bad} of free object 0x{(nuint)obj:x} was 0x{obj[bad]:x2}, " +
                $"expected 0x{(bad == (int)_layout.Size - 1 ? PoisonEnd : PoisonFree):x2}";
        }
        else if (FindZoneViolation(obj, (int)_layout.Size, RedInactive) is { } zone)
        {
            problem = $"red zone of free object 0x{(nuint)obj:x} overwritten: {zone}, expected 0x{RedInactive:x2} (written after it was freed)";
        }
        else if (FindPaddingViolation(obj, (int)_layout.Size) is { } padding)
        {
            problem = $"padding of free object 0x{(nuint)obj:x} overwritten: {padding}, expected 0x{PadPoison:x2} (written after it was freed)";
        }

        if (problem is not null)
        {
            if ((Flags & SlabFlags.Poison) != 0)
            {
                Poison(obj);
            }

            FillZones(obj, (int)_layout.Size, RedInactive);
            FillPadding(obj);
            PutObject(PageAllocator.HeadFrameOf(obj), obj);
            throw new InvalidOperationException($"kmem_cache_alloc({Name}): {problem}. The object was restored and stays free.");
        }

        FillZones(obj, requested, RedActive);
        FreeWord.MarkAllocated(obj, (nint)_layout.FreePointerOffset); // the free word is outside the object here
        _live![(nint)obj] = requested;
        if (site is not null)
        {
            _allocationSites![(nint)obj] = site;
        }
    }

    private void FreeDebug(void* obj, PageFrame* slab)
    {
        var bytes = (byte*)obj;
        string? overflow = null;
        lock (_node.Lock)
        {
            if (!_live!.Remove((nint)obj, out int requested))
            {
                ThrowDoubleFree(obj, "not among the live objects the debug mode tracks");
            }

            if (FindZoneViolation(bytes, requested, RedActive) is { } zone)
            {
                overflow = $"kmem_cache_free({Name}, 0x{(nuint)obj:x}): red zone overwritten: {zone}, expected 0x{RedActive:x2} " +
                    $"(a buffer {(zone.Contains("before", StringComparison.Ordinal) ? "underflow" : "overflow")} of the {requested}-byte object). The object was freed.";
            }
            else if (FindPaddingViolation(bytes, requested) is { } padding)
            {
                overflow = $"kmem_cache_free({Name}, 0x{(nuint)obj:x}): padding overwritten: {padding}, expected 0x{PadPoison:x2} " +
                    $"(a buffer overflow of the {requested}-byte object, past its red zone). The object was freed.";
                FillPadding(bytes);
            }

            _allocationSites?.Remove((nint)obj);
            if ((Flags & SlabFlags.Poison) != 0)
            {
                Poison(bytes);
            }

            FillZones(bytes, (int)_layout.Size, RedInactive);
            PutObject(slab, bytes);
        }

        if (overflow is not null)
        {
            throw new InvalidOperationException(overflow);
        }
    }

    /// <summary>
    /// Fills an object's red zones with <paramref name="value"/>: the left zone, and from <paramref name="end"/> (the
    /// size asked for) through the right zone. Nothing without RedZone.
    /// </summary>
    private void FillZones(byte* obj, int end, byte value)
    {
        if ((Flags & SlabFlags.RedZone) == 0)
        {
            return;
        }

        NativeMemory.Fill(obj - _layout.LeftZone, _layout.LeftZone, value);
        NativeMemory.Fill(obj + end, _layout.Size + _layout.RightZone - (nuint)end, value);
    }

    /// <summary>The first red-zone byte that is not <paramref name="expected"/>, described; null when both zones are intact.</summary>
    private string? FindZoneViolation(byte* obj, int end, byte expected)
    {
        if ((Flags & SlabFlags.RedZone) == 0)
        {
            return null;
        }

        var left = new ReadOnlySpan<byte>(obj - _layout.LeftZone, (int)_layout.LeftZone);
        int before = left.LastIndexOfAnyExcept(expected);
        if (before >= 0)
        {
            return $"byte {left.Length - before} before the start was 0x{left[before]:x2}";
        }

        var right = new ReadOnlySpan<byte>(obj + end, (int)(_layout.Size + _layout.RightZone) - end);
        int past = right.IndexOfAnyExcept(expected);
        return past >= 0 ? $"byte {past} past the end was 0x{right[past]:x2}" : null;
    }

    /// <summary>Where an object's slot padding starts, from the object: past the red zone and the free pointer (debug caches).</summary>
    private nuint PaddingOffset => _layout.FreePointerOffset + (nuint)sizeof(nint);

    /// <summary>The bytes of a slot after the free pointer, up to the next slot (SLUB's padding); 0 without RedZone.</summary>
    private int PaddingLength => (Flags & SlabFlags.RedZone) == 0 ? 0 : (int)(_layout.Stride - _layout.LeftZone - PaddingOffset);

    /// <summary>Fills an object's slot padding with <see cref="PadPoison"/>: at slab creation, and after a report restores it.</summary>
    private void FillPadding(byte* obj) => NativeMemory.Fill(obj + PaddingOffset, (nuint)PaddingLength, PadPoison);

    /// <summary>The first padding byte that is not <see cref="PadPoison"/>, described from the end of the <paramref name="end"/>-byte object; null when intact.</summary>
    private string? FindPaddingViolation(byte* obj, int end)
    {
        var padding = new ReadOnlySpan<byte>(obj + PaddingOffset, PaddingLength);
        int bad = padding.IndexOfAnyExcept(PadPoison);
        return bad < 0 ? null : $"byte {(int)PaddingOffset + bad - end} past the end (in the slot's padding) was 0x{padding[bad]:x2}";
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
