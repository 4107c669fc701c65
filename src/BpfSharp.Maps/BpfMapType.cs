namespace BpfSharp.Maps;


/// <summary>Map creation flags (<c>map_flags</c> of BPF_MAP_CREATE), with the kernel's bit values.</summary>
[Flags]
public enum BpfMapFlags : uint
{
    /// <summary>No flags.</summary>
    None = 0,
    /// <summary>BPF_F_NO_PREALLOC: allocate elements on demand (required by LPM tries).</summary>
    NoPrealloc = 1u << 0,
    /// <summary>BPF_F_NO_COMMON_LRU: per-CPU LRU lists (accepted; this implementation keeps one list).</summary>
    NoCommonLru = 1u << 1,
    /// <summary>BPF_F_NUMA_NODE: numa_node is valid (accepted and ignored).</summary>
    NumaNode = 1u << 2,
    /// <summary>BPF_F_RDONLY: the host (syscall side) may only read.</summary>
    ReadOnly = 1u << 3,
    /// <summary>BPF_F_WRONLY: the host (syscall side) may only write.</summary>
    WriteOnly = 1u << 4,
    /// <summary>BPF_F_STACK_BUILD_ID (stack trace maps).</summary>
    StackBuildId = 1u << 5,
    /// <summary>BPF_F_ZERO_SEED: hash with seed 0, making iteration order deterministic.</summary>
    ZeroSeed = 1u << 6,
    /// <summary>BPF_F_RDONLY_PROG: programs may only read the map.</summary>
    ReadOnlyProg = 1u << 7,
    /// <summary>BPF_F_WRONLY_PROG: programs may only write the map.</summary>
    WriteOnlyProg = 1u << 8,
    /// <summary>BPF_F_CLONE (storage maps).</summary>
    Clone = 1u << 9,
    /// <summary>BPF_F_MMAPABLE: array memory may be mapped by user space.</summary>
    Mmapable = 1u << 10,
    /// <summary>BPF_F_PRESERVE_ELEMS (perf event arrays).</summary>
    PreserveElems = 1u << 11,
    /// <summary>BPF_F_INNER_MAP: inner array map whose max_entries may differ from the template.</summary>
    InnerMap = 1u << 12,
}

/// <summary>Flags of map update operations (<c>BPF_ANY</c>, <c>BPF_NOEXIST</c>, <c>BPF_EXIST</c>, <c>BPF_F_LOCK</c>).</summary>
[Flags]
public enum BpfUpdateFlags : ulong
{
    /// <summary>BPF_ANY: create a new element or update an existing one.</summary>
    Any = 0,
    /// <summary>BPF_NOEXIST: create only; an existing element gives EEXIST.</summary>
    NoExist = 1,
    /// <summary>BPF_EXIST: update only; a missing element gives ENOENT. For queue/stack pushes: overwrite the oldest value when full.</summary>
    Exist = 2,
    /// <summary>BPF_F_LOCK: spin-locked value update (not supported: maps here have no bpf_spin_lock field, so it gives EINVAL).</summary>
    Lock = 4,
}
