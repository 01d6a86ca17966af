// The typed handle the generated API hands out: a pointer to a slab object, and under [SlabCache(Checked = true)]
// the object's generation, which the object also carries in a hidden word after its fields. Freeing the object
// clears that word and every allocation writes a generation never used before (HandleGenerations), so a stale
// handle no longer matches and is refused instead of reading or corrupting a reused object.
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen;

/// <summary>
/// A handle to an object of a <see cref="SlabCacheAttribute"/> struct's cache: a pointer, 16 bytes with the
/// generation of checked caches. <see langword="default"/> is the null handle.
/// </summary>
/// <typeparam name="T">The object type.</typeparam>
/// <remarks>
/// Only the generated <c>Alloc</c> and <c>New</c> make handles, and only the generated <c>Free</c> frees them.
/// A handle of a checked cache (<see cref="SlabCacheAttribute.Checked"/>) throws <see cref="ObjectDisposedException"/>
/// when its object has been freed; an unchecked handle, like a pointer, must not be used after <c>Free</c>.
/// </remarks>
public readonly unsafe struct SlabRef<T> : IEquatable<SlabRef<T>>
    where T : unmanaged
{
    private readonly T* _pointer;

    /// <summary>0 for an unchecked handle; else the generation the object had when this handle was made.</summary>
    private readonly ulong _generation;

    internal SlabRef(T* pointer, ulong generation = 0)
    {
        _pointer = pointer;
        _generation = generation;
    }

    /// <summary>Whether this is the null handle.</summary>
    public bool IsNull => _pointer == null;

    /// <summary>Whether the handle is generation-checked (it comes from a checked cache).</summary>
    public bool IsChecked => _generation != 0;

    /// <summary>The object.</summary>
    /// <exception cref="ObjectDisposedException">A checked handle whose object was freed.</exception>
    public ref T Value
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            ThrowIfFreed(nameof(Value));
            return ref *_pointer;
        }
    }

    /// <summary>The object's address; checked like <see cref="Value"/>.</summary>
    /// <exception cref="ObjectDisposedException">A checked handle whose object was freed.</exception>
    /// <returns>The object's address.</returns>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T* AsPointer()
    {
        ThrowIfFreed(nameof(AsPointer));
        return _pointer;
    }

    /// <summary>
    /// The object as a span of one element, for APIs that take spans (<see cref="MemoryMarshal.AsBytes{T}(Span{T})"/>,
    /// copies, hashing); empty for the null handle. Valid while the object is allocated: do not keep it past
    /// <c>Free</c>, nor across an <c>await</c> after which another part of the program may free it. Checked like <see cref="Value"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">A checked handle whose object was freed.</exception>
    /// <returns>The object, as one element.</returns>
    public Span<T> AsSpan()
    {
        if (_pointer == null)
        {
            return default;
        }

        ThrowIfFreed(nameof(AsSpan));
        return new Span<T>(_pointer, 1);
    }

    /// <summary>The object's bytes: <c>sizeof(T)</c> of them, empty for the null handle; valid and checked as <see cref="AsSpan"/>.</summary>
    /// <exception cref="ObjectDisposedException">A checked handle whose object was freed.</exception>
    /// <returns>The object's bytes.</returns>
    public Span<byte> AsBytes() => MemoryMarshal.AsBytes(AsSpan());

    /// <summary>The pointer without the generation check.</summary>
    internal T* RawPointer => _pointer;

    internal ulong Generation => _generation;

    /// <summary>Where a checked object's generation word sits: the first 8-byte boundary after its fields.</summary>
    internal static nuint GenerationOffset => (nuint)((sizeof(T) + 7) & ~7);

    /// <summary>Compares two handles: equal when they name the same object (and generation).</summary>
    /// <param name="left">A handle.</param>
    /// <param name="right">Another handle.</param>
    /// <returns>Whether both name the same object (and generation).</returns>
    public static bool operator ==(SlabRef<T> left, SlabRef<T> right) => left.Equals(right);

    /// <summary>Compares two handles: different when they name different objects or generations.</summary>
    /// <param name="left">A handle.</param>
    /// <param name="right">Another handle.</param>
    /// <returns>Whether they name different objects.</returns>
    public static bool operator !=(SlabRef<T> left, SlabRef<T> right) => !left.Equals(right);

    internal static ulong* GenerationWord(T* obj) => (ulong*)((byte*)obj + GenerationOffset);

    /// <inheritdoc/>
    public bool Equals(SlabRef<T> other) => _pointer == other._pointer && _generation == other._generation;

    /// <inheritdoc/>
    public override bool Equals([NotNullWhen(true)] object? obj) => obj is SlabRef<T> other && Equals(other);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine((nint)_pointer, _generation);

    /// <summary>The type, the address and, for a checked handle, the generation.</summary>
    /// <returns><c>SlabRef&lt;T&gt;(0x…)</c> (with the generation for a checked handle), or <c>SlabRef&lt;T&gt;(null)</c>.</returns>
    public override string ToString() => _pointer == null
        ? $"SlabRef<{typeof(T).Name}>(null)"
        : _generation == 0
            ? string.Create(CultureInfo.InvariantCulture, $"SlabRef<{typeof(T).Name}>(0x{(nint)_pointer:x})")
            : string.Create(CultureInfo.InvariantCulture,
                $"SlabRef<{typeof(T).Name}>(0x{(nint)_pointer:x}, generation {_generation & uint.MaxValue} of range {(_generation >> 32) & int.MaxValue})");

    /// <summary>For a checked handle: throws when the object's generation word no longer matches the handle's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void ThrowIfFreed(string operation)
    {
        if (_generation != 0 && *GenerationWord(_pointer) != _generation)
        {
            ThrowFreed(operation);
        }
    }

    [DoesNotReturn]
    internal static void ThrowFreed(string operation) => throw new ObjectDisposedException(
        $"SlabRef<{typeof(T).Name}>",
        $"{operation} on a handle whose {typeof(T).Name} was freed (a stale handle or a double free): the slot may hold another object now.");
}
