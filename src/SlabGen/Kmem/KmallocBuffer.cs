// A typed buffer of kmalloc memory for code without `unsafe`: its owner frees it once, and its Span<T> and Memory<T>
// are views that refuse to be taken after the free (the MemoryManager<T> contract), so a safe caller cannot reach
// freed memory through a new view.
using System.Buffers;
using System.Runtime.CompilerServices;

namespace SlabGen;

/// <summary>
/// Typed kmalloc memory with an owner, for code without <c>unsafe</c>: <see cref="Rent"/> allocates zeroed elements of
/// <typeparamref name="T"/>, <see cref="GetSpan"/> and <see cref="MemoryManager{T}.Memory"/> view them, and
/// <see cref="IDisposable.Dispose"/> frees them (once; later calls do nothing).
/// </summary>
/// <remarks>
/// A span or memory taken before Dispose must not be used after it, as with any pooled buffer; views asked for after
/// Dispose throw <see cref="ObjectDisposedException"/>. The memory never moves, so pinning costs nothing.
/// </remarks>
/// <typeparam name="T">An unmanaged element type.</typeparam>
public sealed unsafe class KmallocBuffer<T> : MemoryManager<T>
    where T : unmanaged
{
    /// <summary>The memory's address; 0 once freed.</summary>
    private nint _memory;

    private KmallocBuffer(void* memory, int length)
    {
        _memory = (nint)memory;
        Length = length;
    }

    /// <summary>The number of elements.</summary>
    public int Length { get; }

    /// <summary>Allocates <paramref name="length"/> zeroed elements with <paramref name="kmalloc"/>.</summary>
    /// <param name="length">The elements wanted, 1 or more.</param>
    /// <param name="flags">The allocation's flags (<see cref="GfpFlags.Zero"/> is added).</param>
    /// <param name="kmalloc">The allocator; <see langword="null"/> for <see cref="KmallocAllocator.Shared"/>.</param>
    /// <returns>The buffer; dispose it to free the memory.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is below 1, or its bytes overflow.</exception>
    /// <exception cref="InsufficientMemoryException">No memory under <paramref name="flags"/>.</exception>
    /// <exception cref="ArgumentException">Flags that contradict each other.</exception>
    /// <exception cref="InvalidOperationException">Flags that may sleep in interrupt context.</exception>
    public static KmallocBuffer<T> Rent(int length, GfpFlags flags = GfpFlags.Kernel, KmallocAllocator? kmalloc = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(length, 1);
        nuint bytes = (nuint)length * (nuint)sizeof(T);
        if (bytes > int.MaxValue)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, $"{length:N0} elements of {typeof(T).Name} take {bytes:N0} bytes, more than a span can hold.");
        }

        kmalloc ??= KmallocAllocator.Shared;
        void* memory = kmalloc.Kmalloc(bytes, flags | GfpFlags.Zero);
        return memory == null
            ? throw new InsufficientMemoryException($"{kmalloc.Name} could not allocate {length:N0} elements of {typeof(T).Name} ({bytes:N0} bytes) under GfpFlags.{flags}.")
            : new KmallocBuffer<T>(memory, length);
    }

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    public override Span<T> GetSpan() => new((void*)Address(), Length);

    /// <inheritdoc/>
    /// <exception cref="ObjectDisposedException">The buffer was disposed.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="elementIndex"/> is outside 0..Length.</exception>
    public override MemoryHandle Pin(int elementIndex = 0)
    {
        nint memory = Address();
        ArgumentOutOfRangeException.ThrowIfNegative(elementIndex);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(elementIndex, Length);
        return new MemoryHandle((T*)memory + elementIndex);
    }

    /// <inheritdoc/>
    public override void Unpin()
    {
    }

    /// <inheritdoc/>
    /// <returns>What it holds: element type, length, and whether it was freed.</returns>
    public override string ToString() => $"KmallocBuffer<{typeof(T).Name}>[{Length}]{(Volatile.Read(ref _memory) == 0 ? " (disposed)" : "")}";

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        nint memory = Interlocked.Exchange(ref _memory, 0);
        if (memory != 0)
        {
            Kmem.Kfree((void*)memory);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private nint Address()
    {
        nint memory = Volatile.Read(ref _memory);
        ObjectDisposedException.ThrowIf(memory == 0, this);
        return memory;
    }
}
