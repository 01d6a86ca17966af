// The enumerator of a cache's live objects (KmemCache.Live.cs): a ref struct over the pinned slab list, reading each
// slot's free word in place. The cache's constants are copied in, so the loop touches only the slots and the list.
using System.Runtime.CompilerServices;

namespace SlabGen;

/// <summary>
/// Enumerates the live objects of a <see cref="KmemCache"/> (<see cref="KmemCache.GetEnumerator"/>): their
/// addresses, slab by slab. Pins the cache's slabs from its creation until <see cref="Dispose"/>, which <c>foreach</c>
/// calls; a copy that outlives the pin stops.
/// </summary>
public unsafe ref struct LiveObjectEnumerator
{
    // Every call below takes these fields by value and returns by value: the struct's address is never taken, so the
    // JIT keeps the fields in registers across the loop instead of storing and reloading the cursor per object.
    private readonly KmemCache _cache;
    private readonly nuint _stride;
    private readonly nuint _freeWord;
    private readonly nint _tag;
    private readonly nint _slabMask;

    /// <summary>The pinned slab list (KmemCache.PinSlabs), null once disposed.</summary>
    private nint* _slabs;

    /// <summary>The pin's stamp: the list is this enumeration's while its stamp is this.</summary>
    private readonly long _stamp;

    /// <summary>The current object; before the first MoveNext of a slab, one stride before its first object.</summary>
    private byte* _current;

    /// <summary>The end of the current slab's objects.</summary>
    private byte* _end;

    /// <summary>With sampling on, the cache's sampled objects, visited after the slabs (taken when the slabs run out).</summary>
    private SampledObjects? _sampled;

    internal LiveObjectEnumerator(KmemCache cache)
    {
        _cache = cache;
        _stride = cache.Layout.Stride;
        _freeWord = cache.Layout.FreePointerOffset;
        _tag = cache.FreeTag;
        _slabMask = cache.Layout.SlabMask;
        _slabs = cache.PinSlabs(out _stamp);
    }

    /// <summary>The address of the current object.</summary>
    public readonly nint Current => (nint)_current;

    internal readonly byte* CurrentPointer => _current;

    /// <summary>Moves to the next live object.</summary>
    /// <returns>False when every slab has been visited.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool MoveNext()
    {
        byte* obj = _current + _stride;
        byte* end = _end;
        nuint stride = _stride, freeWord = _freeWord;
        nint tag = _tag, mask = _slabMask;
        for (; obj < end; obj += stride)
        {
            if (FreeWord.IsLive(obj, (nint)freeWord, tag, mask))
            {
                _current = obj;
                return true;
            }
        }

        Run next = NextSlab(_slabs, _stamp, _cache.ObjectsPerSlab, stride, freeWord, tag, mask);
        if (Sampler.Enabled && next.First == null && _slabs != null)
        {
            _sampled ??= SampledObjects.Of(_cache);
            next.First = _sampled.Next();
        }

        _current = next.First;
        _end = next.End;
        return next.First != null;
    }

    /// <summary>Ends the enumeration: the cache may give slabs back again. Calling it twice does nothing.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Dispose()
    {
        if (_slabs != null)
        {
            _cache.UnpinSlabs(_slabs, _stamp);
            _slabs = null;
            _current = _end = null;
        }
    }

    /// <summary>The first live object of the next slab of the list that has one, and the end of that slab's objects; nulls at the end.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Run NextSlab(nint* slabs, long stamp, int objectsPerSlab, nuint stride, nuint freeWord, nint tag, nint mask)
    {
        if (slabs == null || SlabListBuffer.Stamp(slabs) != (nint)stamp)
        {
            return default; // disposed (or a copy of an enumerator whose pin ended)
        }

        while (SlabListBuffer.Next(slabs) < SlabListBuffer.Count(slabs))
        {
            var slab = (PageFrame*)SlabListBuffer.Slab(slabs, SlabListBuffer.Next(slabs)++);
            byte* first = slab->Address + SlabPage.Of(slab)->Colour;
            byte* end = first + ((nuint)objectsPerSlab * stride);
            for (byte* obj = first; obj < end; obj += stride)
            {
                if (FreeWord.IsLive(obj, (nint)freeWord, tag, mask))
                {
                    return new Run { First = obj, End = end };
                }
            }
        }

        return default;
    }

    /// <summary>The sampled objects of a cache that were live when the slabs ran out, each visited if still live when reached.</summary>
    private sealed class SampledObjects
    {
        private static readonly SampledObjects None = new(null!, []);
        private readonly KmemCache _cache;
        private readonly nint[] _objects;
        private int _next;

        private SampledObjects(KmemCache cache, nint[] objects)
        {
            _cache = cache;
            _objects = objects;
        }

        public static SampledObjects Of(KmemCache cache) =>
            Sampler.Pool!.LiveObjectsOf(cache) is nint[] objects ? new SampledObjects(cache, objects) : None;

        public byte* Next()
        {
            while (_next < _objects.Length)
            {
                nint obj = _objects[_next++];
                if (Sampler.Pool!.IsLive(obj, _cache))
                {
                    return (byte*)obj;
                }
            }

            return null;
        }
    }

    /// <summary>Where the enumeration goes on: an object and the end of its slab's objects (returned in two registers).</summary>
    private struct Run
    {
        public byte* First;
        public byte* End;
    }
}
