namespace SlabGen;

/// <summary>Options of a <see cref="KmemCache"/>: alignment and the debug modes of the kernel's slab allocator.</summary>
/// <remarks>
/// Any debug flag (all but <see cref="HwCacheAlign"/>) routes every allocation and free of the cache through
/// the locked, checked path instead of the per-thread fast path: a debugging tool, not a production setting.
/// Debug flags can also be switched on per process without recompiling, for any cache by name (kmalloc and
/// generated caches included): <see cref="SlabDebug"/>.
/// </remarks>
[Flags]
public enum SlabFlags : uint
{
    /// <summary>No options.</summary>
    None = 0,

    /// <summary><c>SLAB_HWCACHE_ALIGN</c>: objects start on a 64-byte cache line.</summary>
    HwCacheAlign = Contract.HwCacheAlign,

    /// <summary>
    /// <c>SLAB_POISON</c>: freed objects are filled with 0x6b (last byte 0xa5) and checked when handed out again,
    /// so a write after free is reported. With a constructor, the constructor runs on every allocation instead
    /// of once per slab, because poisoning destroys the constructed state.
    /// </summary>
    Poison = Contract.Poison,

    /// <summary>
    /// <c>SLAB_RED_ZONE</c>: guard bytes on both sides of each object (0xcc while allocated, 0xbb while free),
    /// byte-exact: from the object's last byte (for kmalloc, the last byte asked for) to 8 bytes past its next 8-byte
    /// boundary, and 8 bytes (or the alignment) before it. Checked on free, so a write past the end or before the
    /// start is reported at the object it came from; the zones of a free object are checked when it is handed out again.
    /// </summary>
    RedZone = Contract.RedZone,

    /// <summary>
    /// <c>SLAB_STORE_USER</c>: remember where each live object was allocated (file and line when symbols are
    /// present), so <see cref="KmemCache.Destroy"/> names the allocation sites of leaked objects.
    /// </summary>
    StoreUser = Contract.StoreUser,

    /// <summary>
    /// <c>SLAB_CONSISTENCY_CHECKS</c>: every operation takes the checked path, where an object's state is kept outside
    /// the slab (a double free is caught even after drains). Every cache checks frees for double frees, interior
    /// pointers and pointers from other caches or none by default.
    /// </summary>
    ConsistencyChecks = Contract.ConsistencyChecks,
}
