// The floor every per-thread allocator is measured against: the least one can do, an intrusive singly linked list of
// 64-byte nodes in a thread static (ObjectBenchmarks and the precise mode both use it).
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace SlabGen.Benchmarks;

internal static unsafe class ThreadLocalFloor
{
    [ThreadStatic]
    private static Node* t_head;

    /// <summary>One pop and one push of the same node: a pair at the floor.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static nint PopPush()
    {
        Node* node = t_head;
        if (node == null)
        {
            node = Refill();
        }

        t_head = node->Next;
        node->Next = t_head;
        t_head = node;
        return (nint)node;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static Node* Refill()
    {
        var nodes = (Node*)NativeMemory.AlignedAlloc(64 * 64, 64);
        for (int i = 0; i < 64; i++)
        {
            nodes[i].Next = i + 1 < 64 ? &nodes[i + 1] : null;
        }

        return nodes;
    }

    private struct Node
    {
        public Node* Next;
    }
}
