// What a game loop needs of a cache besides Alloc and Free: visiting the live objects in place, freeing them all at
// once, and a reserve that Atomic allocations draw on.
//
// Liveness comes from the free word of the checked frees (ArrayCache.cs, "Checked frees"): a free object's word,
// XORed with the cache's secret, points into its own slab (its own address while a thread or the depot caches it, its
// successor or the slab's end mark on a freelist); allocation clears it (debug caches too, whose word lies outside the
// object). So a slot is live exactly when its word does not point into its slab, read in place without draining any
// thread, and an object freed while an enumeration runs is skipped when the enumeration reaches it. With the free
// checks switched off nothing marks the cached objects, so every thread is drained first and only the state at the
// start is known (objects leaving a slab get their word cleared in that mode, so only the freelists' say "free").
//
// Enumerations and resets pin the cache's slabs: while a pin is held no slab goes back to the page allocator, so the
// slabs they listed stay this cache's memory whatever other threads do.
using System.Runtime.InteropServices;

namespace SlabGen;

public sealed unsafe partial class KmemCache
{
    /// <summary>
    /// The objects the cache keeps slabs for (<see cref="Reserve"/>): that many objects can be live at once without
    /// the cache taking memory, so <see cref="GfpFlags.Atomic"/> allocations do not fail for want of a slab.
    /// </summary>
    public long ReservedObjects
    {
        get
        {
            lock (_node.Lock)
            {
                return _node.ReservedSlabs * ObjectsPerSlab;
            }
        }
    }

    /// <summary>
    /// Enumerates the live objects (allocated and not freed), each once: slab by slab, in address order within a
    /// slab. Free objects and objects that threads' array caches hold are skipped.
    /// </summary>
    /// <remarks>
    /// Meant for the thread that owns the objects (a frame loop). The body may free the current object or any other;
    /// an object freed before the enumeration reaches it is not visited. Objects allocated while it runs may or may
    /// not be visited. From this call until the enumerator is disposed (<c>foreach</c> does) no slab of the cache goes
    /// back to the page allocator, and <see cref="Destroy"/> refuses. Other threads may allocate and free at the
    /// same time without harm to the cache, but what they change is seen or not depending on timing.
    /// </remarks>
    /// <returns>An enumerator of the objects' addresses, which pins the slabs until it is disposed.</returns>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    public LiveObjectEnumerator GetEnumerator() => new(this);

    /// <summary>
    /// Frees every live object of the cache at once, the end of a level for a game: each object goes back on its
    /// slab's freelist, the constructor (if any) runs on it again so it is handed out constructed, and under
    /// <see cref="SlabCacheAttribute.Checked"/> every handle to it is refused from then on. Empty slabs then go back
    /// to the page allocator as frees return them (a checked cache and the <see cref="Reserve"/> keep theirs).
    /// </summary>
    /// <remarks>
    /// Run it when no other thread uses the cache's objects: a free of an object that Reset frees too is a double
    /// free, and an object another thread allocates while Reset runs may be freed with the rest.
    /// </remarks>
    /// <returns>How many objects were freed.</returns>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    /// <exception cref="InvalidOperationException">
    /// A kmalloc size cache, whose objects belong to every Kmalloc caller. Or, with <see cref="SlabFlags.RedZone"/>, an
    /// object's red zone was overwritten: every object is freed all the same, and the message names the first.
    /// </exception>
    public long Reset()
    {
        if (ServesKmalloc)
        {
            throw new InvalidOperationException($"Cache '{Name}' is a kmalloc size cache: its objects belong to every Kmalloc caller and are freed with Kfree, one by one.");
        }

        Interlocked.Increment(ref _resets);
        nint* slabs = PinSlabs(out long stamp);
        long freed = 0;
        Exception? firstError = null;
        try
        {
            Span<nint> batch = stackalloc nint[Math.Min(ObjectsPerSlab, 256)];
            for (int s = 0; s < SlabListBuffer.Count(slabs); s++)
            {
                var slab = (PageFrame*)SlabListBuffer.Slab(slabs, s);
                byte* first = slab->Address + SlabPage.Of(slab)->Colour;
                int count = 0;
                for (int i = 0; i < ObjectsPerSlab; i++)
                {
                    byte* obj = first + ((nuint)i * _layout.Stride);
                    if (IsLive(obj))
                    {
                        batch[count++] = (nint)obj;
                    }

                    if (count == batch.Length || (i == ObjectsPerSlab - 1 && count != 0))
                    {
                        firstError ??= FreeForReset(slab, batch[..count]);
                        freed += count;
                        count = 0;
                    }
                }
            }
        }
        finally
        {
            UnpinSlabs(slabs, stamp);
        }

        if (Sampler.Enabled && Sampler.Pool!.LiveObjectsOf(this) is nint[] sampled)
        {
            foreach (nint obj in sampled)
            {
                try
                {
                    Sampler.Pool.Free(this, (void*)obj, "kmem_cache_reset");
                    freed++;
                }
                catch (InvalidOperationException e)
                {
                    freed++; // freed all the same: the bytes around it were overwritten
                    firstError ??= e;
                }
                catch (ArgumentException)
                {
                    // freed by another thread since the list was taken
                }
            }
        }

        return firstError is null ? freed : throw new InvalidOperationException($"kmem_cache_reset({Name}): {firstError.Message}", firstError);
    }

    /// <summary>
    /// Makes sure the cache holds slabs for at least <paramref name="objects"/> objects and keeps them (the kernel's
    /// mempool, for one cache): taken now, at load time, so that a loop that never has more live objects than that
    /// allocates with <see cref="GfpFlags.Atomic"/> and never fails for want of memory. Shrink, memory-pressure trims
    /// and frees keep the reserved slabs; 0 ends the reserve. Calling it again sets a new reserve.
    /// </summary>
    /// <remarks>
    /// Objects parked in another live thread's array cache (at most <see cref="Limit"/> per thread) are not within an
    /// Atomic allocation's reach: a loop whose objects are freed on other threads reserves that much more.
    /// </remarks>
    /// <param name="objects">How many objects the reserve covers; 0 for none.</param>
    /// <returns>The objects the reserve covers: <paramref name="objects"/> rounded up to whole slabs.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="objects"/> is negative, or needs more memory than the page allocator may ever hold (its cap, else the memory available to the process): refused before anything is taken.</exception>
    /// <exception cref="ObjectDisposedException">The cache was destroyed.</exception>
    /// <exception cref="InvalidOperationException">Called in interrupt context: taking memory may sleep.</exception>
    /// <exception cref="SlabOutOfMemoryException">
    /// The page allocator could not supply the slabs (its cap): the reserve stays as it was, the slabs taken so far stay
    /// with the cache as ordinary free slabs. A constructor that throws while a slab is populated leaves the reserve as
    /// it was too.
    /// </exception>
    [MaySleep]
    public long Reserve(long objects)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(objects);
        ObjectDisposedException.ThrowIf(_id < 0, this);
        Gfp.Check(GfpFlags.Kernel, "kmem_cache_reserve", Name);
        long slabs = (objects / ObjectsPerSlab) + (objects % ObjectsPerSlab != 0 ? 1 : 0); // no overflow near long.MaxValue
        if (slabs > _pages.ReservableBytes / (long)_layout.SlabBytes)
        {
            // Refused before any slab is taken.
            throw new ArgumentOutOfRangeException(nameof(objects), objects,
                $"kmem_cache_reserve({Name}): {objects:N0} objects need {slabs:N0} slabs of {_layout.SlabBytes:N0} bytes, more than the page allocator may ever hold ({_pages.ReservableDescription}). The reserve is unchanged.");
        }

        long previous;
        lock (_node.Lock)
        {
            // Kept while they are taken: a page allocator at its cap reclaims empty slabs before it fails, these too otherwise.
            previous = _node.ReservedSlabs;
            _node.ReservedSlabs = Math.Max(previous, slabs);
        }

        try
        {
            while (SlabCount < slabs)
            {
                if (!Grow(GfpFlags.Kernel))
                {
                    throw new SlabOutOfMemoryException(Name, $"slab for a reserve of {objects:N0} objects", GfpFlags.Kernel, _pages.MaxBytes);
                }
            }
        }
        catch
        {
            // Out of memory, or a constructor that threw while a slab was populated: the reserve stays as it was.
            lock (_node.Lock)
            {
                _node.ReservedSlabs = previous;
            }

            throw;
        }

        lock (_node.Lock)
        {
            _node.ReservedSlabs = slabs;
        }

        return slabs * ObjectsPerSlab;
    }

    /// <summary>Whether the object in this slot is allocated (see the file header).</summary>
    internal bool IsLive(byte* obj) => FreeWord.IsLive(obj, (nint)_layout.FreePointerOffset, _freeTag, _layout.SlabMask);

    /// <summary>
    /// Lists the slabs that may hold live objects (partial and full ones) in a <see cref="SlabListBuffer"/> and pins every
    /// slab of the cache until <see cref="UnpinSlabs"/>. Without the free checks, drains every thread first so the free
    /// words tell the truth. The buffer's stamp identifies this pin: a copy of an enumerator disposed twice, or used
    /// after its pin ended, finds another stamp and does nothing.
    /// </summary>
    internal nint* PinSlabs(out long stamp)
    {
        ObjectDisposedException.ThrowIf(_id < 0, this);
        if (!ArrayCache.FreeChecks)
        {
            _arrayCaches.Drain(DrainScope.All);
            DrainDepot();
        }

        lock (_node.Lock)
        {
            ObjectDisposedException.ThrowIf(_id < 0, this);
            int needed = (int)(_node.Partial.Count + _node.Full.Count);
            nint* buffer = null;
            for (int i = 0; i < _pinBuffers.Idle.Count && buffer == null; i++)
            {
                if (SlabListBuffer.Capacity((nint*)_pinBuffers.Idle[i]) >= needed)
                {
                    buffer = (nint*)_pinBuffers.Idle[i];
                    _pinBuffers.Idle.RemoveAt(i);
                }
            }

            if (buffer == null)
            {
                buffer = SlabListBuffer.Create(Math.Max(16, needed + (needed / 2)));
                _pinBuffers.All.Add((nint)buffer);
            }

            int count = 0;
            for (PageFrame* slab = _node.Partial.First; slab != null; slab = slab->Next)
            {
                SlabListBuffer.Slab(buffer, count++) = (nint)slab;
            }

            for (PageFrame* slab = _node.Full.First; slab != null; slab = slab->Next)
            {
                SlabListBuffer.Slab(buffer, count++) = (nint)slab;
            }

            SlabListBuffer.Count(buffer) = count;
            SlabListBuffer.Next(buffer) = 0;
            stamp = ++_node.LastPinStamp;
            SlabListBuffer.Stamp(buffer) = (nint)stamp;
            _node.Pins++;
            return buffer;
        }
    }

    /// <summary>
    /// Ends the pin <paramref name="stamp"/> names, unless it has ended already: the buffer goes back for the next pin,
    /// and once no pin is left the empty slabs the pins kept are released.
    /// </summary>
    internal void UnpinSlabs(nint* slabs, long stamp)
    {
        lock (_node.Lock)
        {
            if (SlabListBuffer.Stamp(slabs) != (nint)stamp || _id < 0)
            {
                return;
            }

            SlabListBuffer.Stamp(slabs) = 0;
            _pinBuffers.Idle.Add((nint)slabs);
            _node.Pins--;
            while (_node.Empty.Count > KeptEmptySlabs && MayReleaseSlab)
            {
                PageFrame* slab = _node.Empty.First;
                _node.Empty.Remove(slab);
                ReleaseSlab(slab);
            }
        }
    }

    /// <summary>Whether one more slab may go back to the page allocator now: no pin, not a checked cache, above the reserve. Under the cache lock.</summary>
    private bool MayReleaseSlab => _node.Pins == 0 && !KeepsSlabs && _node.Slabs > _node.ReservedSlabs;

    /// <summary>Frees the slab-list buffers, when the cache is destroyed (no pin is left then). Under the cache lock.</summary>
    private void FreeSlabLists()
    {
        foreach (nint buffer in _pinBuffers.All)
        {
            NativeMemory.Free((void*)buffer);
        }

        _pinBuffers.All.Clear();
        _pinBuffers.Idle.Clear();
    }

    /// <summary>Frees live objects of one slab for <see cref="Reset"/>; returns the first red-zone report of a debug cache, else null.</summary>
    private Exception? FreeForReset(PageFrame* slab, ReadOnlySpan<nint> objects)
    {
        if (_onReset != null)
        {
            foreach (nint obj in objects)
            {
                _onReset((void*)obj);
            }
        }

        // Constructed again before it is free, as every free hands an object back (a poisoned cache constructs on allocation).
        if (_ctor != null && !(_debug && (Flags & SlabFlags.Poison) != 0))
        {
            foreach (nint obj in objects)
            {
                _ctor((void*)obj);
            }
        }

        Exception? first = null;
        if (_debug)
        {
            foreach (nint obj in objects)
            {
                try
                {
                    FreeDebug((void*)obj, slab);
                }
                catch (InvalidOperationException e)
                {
                    first ??= e;
                }
            }

            return first;
        }

        lock (_node.Lock)
        {
            foreach (nint obj in objects)
            {
                PutObject(slab, (byte*)obj);
            }
        }

        return null;
    }
}

/// <summary>Every slab-list buffer a cache's pins used (All), kept until the cache is destroyed, and those no pin uses now (Idle).</summary>
internal sealed class PinBuffers
{
    public List<nint> All { get; } = [];

    public List<nint> Idle { get; } = [];
}

/// <summary>
/// The slab head frames a pin listed, in a native buffer the cache recycles: [count][capacity][next][stamp][slab 0 ..
/// slab capacity-1]; "next" is an enumeration's cursor, "stamp" the pin using the buffer (0 for none).
/// </summary>
internal static unsafe class SlabListBuffer
{
    private const int Header = 4;

    public static nint* Create(int capacity)
    {
        var buffer = (nint*)NativeMemory.Alloc((nuint)(Header + capacity), (nuint)sizeof(nint));
        buffer[1] = capacity;
        return buffer;
    }

    public static ref nint Count(nint* buffer) => ref buffer[0];

    public static nint Capacity(nint* buffer) => buffer[1];

    public static ref nint Next(nint* buffer) => ref buffer[2];

    public static ref nint Stamp(nint* buffer) => ref buffer[3];

    public static ref nint Slab(nint* buffer, nint index) => ref buffer[Header + index];
}
