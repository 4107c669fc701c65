using BpfSharp.Isa;
using System.Numerics;

namespace BpfSharp.Maps;

/// <summary>
/// The attributes of a map, as given to BPF_MAP_CREATE: type, key and value sizes, capacity, flags and, for
/// map-in-map types, the template of the inner maps. NUMA node, BTF ids and map_extra are not modelled.
/// </summary>
/// <param name="Name">Map name (informational; unlike the kernel, no 16-byte limit, libbpf-style names are kept whole).</param>
/// <param name="Type">Map type.</param>
/// <param name="KeySize">Key size in bytes.</param>
/// <param name="ValueSize">Value size in bytes (per CPU for per-CPU maps).</param>
/// <param name="MaxEntries">Capacity; for ring buffers the data size in bytes.</param>
/// <param name="Flags">Creation flags.</param>
/// <param name="InnerMap">For <see cref="BpfMapType.ArrayOfMaps"/> and <see cref="BpfMapType.HashOfMaps"/>: the inner map template.</param>
public sealed record MapSpec(
    string Name,
    BpfMapType Type,
    uint KeySize,
    uint ValueSize,
    uint MaxEntries,
    BpfMapFlags Flags = BpfMapFlags.None,
    MapSpec? InnerMap = null)
{
    /// <summary>The kernel's page size assumed for ring buffer sizes.</summary>
    public const uint PageSize = 4096;

    /// <summary>PCPU_MIN_UNIT_SIZE: largest per-CPU value (after rounding up to 8).</summary>
    public const uint PerCpuMaxValueSize = 32 * 1024;

    /// <summary>KMALLOC_MAX_SIZE on x86-64: bound for hash elements and queue values.</summary>
    public const ulong KmallocMaxSize = 4ul * 1024 * 1024;

    /// <summary>Largest LPM trie data part (after the 4-byte prefix length), in bytes.</summary>
    public const uint LpmMaxDataSize = 256;

    private const ulong HashElemOverhead = 48;      // sizeof(struct htab_elem)
    private const ulong LpmNodeOverhead = 40;       // sizeof(struct lpm_trie_node)

    private const BpfMapFlags AccessMask = BpfMapFlags.ReadOnly | BpfMapFlags.WriteOnly | BpfMapFlags.ReadOnlyProg | BpfMapFlags.WriteOnlyProg;
    private const BpfMapFlags ArrayFlagMask = BpfMapFlags.NumaNode | BpfMapFlags.Mmapable | AccessMask | BpfMapFlags.PreserveElems | BpfMapFlags.InnerMap;
    private const BpfMapFlags HashFlagMask = BpfMapFlags.NoPrealloc | BpfMapFlags.NoCommonLru | BpfMapFlags.NumaNode | AccessMask | BpfMapFlags.ZeroSeed;
    private const BpfMapFlags QueueStackFlagMask = BpfMapFlags.NumaNode | AccessMask;
    private const BpfMapFlags LpmFlagMask = BpfMapFlags.NoPrealloc | BpfMapFlags.NumaNode | AccessMask;
    private const BpfMapFlags RingBufFlagMask = BpfMapFlags.NumaNode;

    /// <summary>True for the per-CPU map types.</summary>
    public bool IsPerCpu => Type is BpfMapType.PerCpuArray or BpfMapType.PerCpuHash or BpfMapType.LruPerCpuHash;

    /// <summary>True for array and hash of maps.</summary>
    public bool IsMapInMap => Type is BpfMapType.ArrayOfMaps or BpfMapType.HashOfMaps;

    /// <summary>
    /// Applies the checks of the kernel's BPF_MAP_CREATE (map_create and the type's map_alloc_check / map_alloc)
    /// and returns the errno it would give, with a reason naming the offending attribute.
    /// </summary>
    public BpfErrno Check(out string reason)
    {
        if ((Flags & (BpfMapFlags.ReadOnly | BpfMapFlags.WriteOnly)) == (BpfMapFlags.ReadOnly | BpfMapFlags.WriteOnly))
            return Fail(BpfErrno.EINVAL, "BPF_F_RDONLY and BPF_F_WRONLY together", out reason);
        switch (Type)
        {
            case BpfMapType.Array:
            case BpfMapType.PerCpuArray:
                return CheckArray(out reason);
            case BpfMapType.ProgArray:
            case BpfMapType.ArrayOfMaps:
                if (ValueSize != 4) return Fail(BpfErrno.EINVAL, $"value_size {ValueSize} must be 4 (a file descriptor)", out reason);
                if ((Flags & (BpfMapFlags.ReadOnlyProg | BpfMapFlags.WriteOnlyProg)) != 0)
                    return Fail(BpfErrno.EINVAL, "BPF_F_RDONLY_PROG/BPF_F_WRONLY_PROG not allowed on fd arrays", out reason);
                {
                    var e = CheckArray(out reason);
                    return e != BpfErrno.None || Type != BpfMapType.ArrayOfMaps ? e : CheckInner(out reason);
                }
            case BpfMapType.Hash:
            case BpfMapType.PerCpuHash:
            case BpfMapType.LruHash:
            case BpfMapType.LruPerCpuHash:
                return CheckHash(out reason);
            case BpfMapType.HashOfMaps:
                if (ValueSize != 4) return Fail(BpfErrno.EINVAL, $"value_size {ValueSize} must be 4 (a file descriptor)", out reason);
                {
                    var e = CheckHash(out reason);
                    return e != BpfErrno.None ? e : CheckInner(out reason);
                }
            case BpfMapType.Queue:
            case BpfMapType.Stack:
                if (MaxEntries == 0) return Fail(BpfErrno.EINVAL, "max_entries is 0", out reason);
                if (KeySize != 0) return Fail(BpfErrno.EINVAL, $"key_size {KeySize} must be 0 for a queue/stack", out reason);
                if (ValueSize == 0) return Fail(BpfErrno.EINVAL, "value_size is 0", out reason);
                if ((Flags & ~QueueStackFlagMask) != 0) return BadFlags(QueueStackFlagMask, out reason);
                if (!ProgAccessOk()) return ProgAccessFail(out reason);
                if (ValueSize > KmallocMaxSize) return Fail(BpfErrno.E2BIG, $"value_size {ValueSize} exceeds {KmallocMaxSize}", out reason);
                return Ok(out reason);
            case BpfMapType.LpmTrie:
                if (MaxEntries == 0) return Fail(BpfErrno.EINVAL, "max_entries is 0", out reason);
                if ((Flags & BpfMapFlags.NoPrealloc) == 0) return Fail(BpfErrno.EINVAL, "an LPM trie requires BPF_F_NO_PREALLOC", out reason);
                if ((Flags & ~LpmFlagMask) != 0) return BadFlags(LpmFlagMask, out reason);
                if (!ProgAccessOk()) return ProgAccessFail(out reason);
                if (KeySize < 4 + 1 || KeySize > 4 + LpmMaxDataSize)
                    return Fail(BpfErrno.EINVAL, $"key_size {KeySize} must be 4 (prefixlen) + 1..{LpmMaxDataSize} data bytes", out reason);
                if (ValueSize < 1 || ValueSize > KmallocMaxSize - LpmMaxDataSize - LpmNodeOverhead)
                    return Fail(BpfErrno.EINVAL, $"value_size {ValueSize} out of range", out reason);
                return Ok(out reason);
            case BpfMapType.RingBuf:
                if ((Flags & ~RingBufFlagMask) != 0) return BadFlags(RingBufFlagMask, out reason);
                if (KeySize != 0 || ValueSize != 0) return Fail(BpfErrno.EINVAL, "a ring buffer has key_size and value_size 0", out reason);
                if (!BitOperations.IsPow2(MaxEntries) || MaxEntries % PageSize != 0)
                    return Fail(BpfErrno.EINVAL, $"max_entries {MaxEntries} must be a power of 2 multiple of the page size {PageSize}", out reason);
                return Ok(out reason);
            case BpfMapType.Unspecified:
                return Fail(BpfErrno.EINVAL, "map type 0 (unspec)", out reason);
            default:
                if ((uint)Type > (uint)BpfMapType.Arena) return Fail(BpfErrno.EINVAL, $"unknown map type {(uint)Type}", out reason);
                return Fail(BpfErrno.EOPNOTSUPP, $"map type {Type} is not implemented by the userspace runtime", out reason);
        }
    }

    /// <summary>Throws <see cref="MapSpecException"/> when <see cref="Check"/> fails.</summary>
    public void Validate()
    {
        var errno = Check(out var reason);
        if (errno != BpfErrno.None) throw new MapSpecException(errno, Name, reason);
    }

    private BpfErrno CheckArray(out string reason)
    {
        if (MaxEntries == 0) return Fail(BpfErrno.EINVAL, "max_entries is 0", out reason);
        if (KeySize != 4) return Fail(BpfErrno.EINVAL, $"key_size {KeySize} must be 4 for an array", out reason);
        if (ValueSize == 0) return Fail(BpfErrno.EINVAL, "value_size is 0", out reason);
        if ((Flags & ~ArrayFlagMask) != 0) return BadFlags(ArrayFlagMask, out reason);
        if (!ProgAccessOk()) return ProgAccessFail(out reason);
        if (Type != BpfMapType.Array && (Flags & (BpfMapFlags.Mmapable | BpfMapFlags.InnerMap)) != 0)
            return Fail(BpfErrno.EINVAL, "BPF_F_MMAPABLE/BPF_F_INNER_MAP only apply to plain arrays", out reason);
        if ((Flags & BpfMapFlags.PreserveElems) != 0)
            return Fail(BpfErrno.EINVAL, "BPF_F_PRESERVE_ELEMS only applies to perf event arrays", out reason);
        if (ValueSize > int.MaxValue) return Fail(BpfErrno.E2BIG, $"value_size {ValueSize} too large", out reason);
        if (IsPerCpu && RoundUp8(ValueSize) > PerCpuMaxValueSize)
            return Fail(BpfErrno.E2BIG, $"per-CPU value_size {ValueSize} exceeds {PerCpuMaxValueSize}", out reason);
        return Ok(out reason);
    }

    private BpfErrno CheckHash(out string reason)
    {
        bool lru = Type is BpfMapType.LruHash or BpfMapType.LruPerCpuHash;
        bool prealloc = (Flags & BpfMapFlags.NoPrealloc) == 0;
        bool perCpuLru = (Flags & BpfMapFlags.NoCommonLru) != 0;
        if ((Flags & ~HashFlagMask) != 0) return BadFlags(HashFlagMask, out reason);
        if (!ProgAccessOk()) return ProgAccessFail(out reason);
        if (!lru && perCpuLru) return Fail(BpfErrno.EINVAL, "BPF_F_NO_COMMON_LRU on a non-LRU map", out reason);
        if (lru && !prealloc) return Fail(BpfErrno.ENOTSUPP, "LRU maps cannot use BPF_F_NO_PREALLOC", out reason);
        if ((Flags & BpfMapFlags.NumaNode) != 0 && (IsPerCpu || perCpuLru))
            return Fail(BpfErrno.EINVAL, "BPF_F_NUMA_NODE on a per-CPU map", out reason);
        if (MaxEntries == 0) return Fail(BpfErrno.EINVAL, "max_entries is 0", out reason);
        if (KeySize == 0) return Fail(BpfErrno.EINVAL, "key_size is 0", out reason);
        if (ValueSize == 0) return Fail(BpfErrno.EINVAL, "value_size is 0", out reason);
        if ((ulong)KeySize + ValueSize >= KmallocMaxSize - HashElemOverhead)
            return Fail(BpfErrno.E2BIG, $"key_size {KeySize} + value_size {ValueSize} too large for a hash element", out reason);
        if (IsPerCpu && RoundUp8(ValueSize) > PerCpuMaxValueSize)
            return Fail(BpfErrno.E2BIG, $"per-CPU value_size {ValueSize} exceeds {PerCpuMaxValueSize}", out reason);
        if (MaxEntries > 1u << 27) // n_buckets = roundup_pow_of_two(max_entries) must stay below U32_MAX / sizeof(struct bucket)
            return Fail(BpfErrno.E2BIG, $"max_entries {MaxEntries} needs too many hash buckets", out reason);
        return Ok(out reason);
    }

    private BpfErrno CheckInner(out string reason)
    {
        if (InnerMap is null) return Fail(BpfErrno.EBADF, "map-in-map without an inner map template", out reason);
        if (InnerMap.IsMapInMap) return Fail(BpfErrno.EINVAL, "map-in-map supports one level only", out reason);
        if (InnerMap.Type is BpfMapType.ProgArray)
            return Fail(BpfErrno.ENOTSUPP, $"inner map type {InnerMap.Type} not supported", out reason);
        var e = InnerMap.Check(out var innerReason);
        if (e != BpfErrno.None) return Fail(e, "inner map: " + innerReason, out reason);
        return Ok(out reason);
    }

    /// <summary>
    /// The kernel's bpf_map_meta_equal: whether <paramref name="inner"/> may be stored in a map-in-map whose
    /// template is this spec (same type, sizes and flags; same max_entries unless the template has BPF_F_INNER_MAP).
    /// </summary>
    public bool IsCompatibleInner(MapSpec inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        return inner.Type == Type && inner.KeySize == KeySize && inner.ValueSize == ValueSize
            && (inner.Flags & ~BpfMapFlags.InnerMap) == (Flags & ~BpfMapFlags.InnerMap)
            && ((Flags & BpfMapFlags.InnerMap) != 0 || inner.MaxEntries == MaxEntries);
    }

    private bool ProgAccessOk() =>
        (Flags & (BpfMapFlags.ReadOnlyProg | BpfMapFlags.WriteOnlyProg)) != (BpfMapFlags.ReadOnlyProg | BpfMapFlags.WriteOnlyProg);

    private static BpfErrno ProgAccessFail(out string reason) =>
        Fail(BpfErrno.EINVAL, "BPF_F_RDONLY_PROG and BPF_F_WRONLY_PROG together", out reason);

    private BpfErrno BadFlags(BpfMapFlags allowed, out string reason) =>
        Fail(BpfErrno.EINVAL, $"map_flags 0x{(uint)Flags:x} not allowed for {Type} (allowed: {allowed})", out reason);

    internal static uint RoundUp8(uint n) => (n + 7u) & ~7u;

    private static BpfErrno Fail(BpfErrno e, string why, out string reason) { reason = why; return e; }

    private static BpfErrno Ok(out string reason) { reason = ""; return BpfErrno.None; }
}
