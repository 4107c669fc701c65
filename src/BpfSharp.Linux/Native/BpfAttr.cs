using System.Runtime.InteropServices;

namespace BpfSharp.Linux.Native;

// The members of the uapi `union bpf_attr` (include/uapi/linux/bpf.h), one struct per command group.
// Offsets and sizes follow the C layout (natural alignment, 8-byte tail padding); the test
// BpfAttrLayoutTests checks them against the running kernel's own BTF description of `union bpf_attr`.
// The kernel accepts any attr size up to its own union size and zero-fills the rest, so each struct
// stops after the last field we use (rounded up to 8).

/// <summary>BPF_MAP_CREATE.</summary>
[StructLayout(LayoutKind.Explicit, Size = 80)]
internal unsafe struct MapCreateAttr
{
    [FieldOffset(0)] public uint MapType;
    [FieldOffset(4)] public uint KeySize;
    [FieldOffset(8)] public uint ValueSize;
    [FieldOffset(12)] public uint MaxEntries;
    [FieldOffset(16)] public uint MapFlags;
    [FieldOffset(20)] public uint InnerMapFd;
    [FieldOffset(24)] public uint NumaNode;
    [FieldOffset(28)] public fixed byte MapName[16];
    [FieldOffset(44)] public uint MapIfindex;
    [FieldOffset(48)] public uint BtfFd;
    [FieldOffset(52)] public uint BtfKeyTypeId;
    [FieldOffset(56)] public uint BtfValueTypeId;
    [FieldOffset(60)] public uint BtfVmlinuxValueTypeId;
    [FieldOffset(64)] public ulong MapExtra;
    [FieldOffset(72)] public int ValueTypeBtfObjFd;
    [FieldOffset(76)] public int MapTokenFd;
}

/// <summary>BPF_MAP_*_ELEM, BPF_MAP_GET_NEXT_KEY, BPF_MAP_FREEZE.</summary>
[StructLayout(LayoutKind.Explicit, Size = 32)]
internal struct MapElemAttr
{
    [FieldOffset(0)] public uint MapFd;
    [FieldOffset(8)] public ulong Key;
    /// <summary>value, or next_key for GET_NEXT_KEY (a union in the uapi).</summary>
    [FieldOffset(16)] public ulong ValueOrNextKey;
    [FieldOffset(24)] public ulong Flags;
}

/// <summary>BPF_MAP_*_BATCH (the <c>batch</c> member).</summary>
[StructLayout(LayoutKind.Explicit, Size = 56)]
internal struct MapBatchAttr
{
    [FieldOffset(0)] public ulong InBatch;
    [FieldOffset(8)] public ulong OutBatch;
    [FieldOffset(16)] public ulong Keys;
    [FieldOffset(24)] public ulong Values;
    /// <summary>In: number of slots in keys/values; out: number of elements processed.</summary>
    [FieldOffset(32)] public uint Count;
    [FieldOffset(36)] public uint MapFd;
    [FieldOffset(40)] public ulong ElemFlags;
    [FieldOffset(48)] public ulong Flags;
}

/// <summary>BPF_PROG_LOAD.</summary>
[StructLayout(LayoutKind.Explicit, Size = 144)]
internal unsafe struct ProgLoadAttr
{
    [FieldOffset(0)] public uint ProgType;
    [FieldOffset(4)] public uint InsnCnt;
    [FieldOffset(8)] public ulong Insns;
    [FieldOffset(16)] public ulong License;
    [FieldOffset(24)] public uint LogLevel;
    [FieldOffset(28)] public uint LogSize;
    [FieldOffset(32)] public ulong LogBuf;
    [FieldOffset(40)] public uint KernVersion;
    [FieldOffset(44)] public uint ProgFlags;
    [FieldOffset(48)] public fixed byte ProgName[16];
    [FieldOffset(64)] public uint ProgIfindex;
    [FieldOffset(68)] public uint ExpectedAttachType;
    [FieldOffset(72)] public uint ProgBtfFd;
    [FieldOffset(76)] public uint FuncInfoRecSize;
    [FieldOffset(80)] public ulong FuncInfo;
    [FieldOffset(88)] public uint FuncInfoCnt;
    [FieldOffset(92)] public uint LineInfoRecSize;
    [FieldOffset(96)] public ulong LineInfo;
    [FieldOffset(104)] public uint LineInfoCnt;
    [FieldOffset(108)] public uint AttachBtfId;
    /// <summary>attach_prog_fd / attach_btf_obj_fd (a union in the uapi).</summary>
    [FieldOffset(112)] public uint AttachProgFd;
    [FieldOffset(116)] public uint CoreReloCnt;
    [FieldOffset(120)] public ulong FdArray;
    [FieldOffset(128)] public ulong CoreRelos;
    [FieldOffset(136)] public uint CoreReloRecSize;
    /// <summary>Out (kernel 6.4+): the log size the full log would need.</summary>
    [FieldOffset(140)] public uint LogTrueSize;
}

/// <summary>BPF_OBJ_PIN / BPF_OBJ_GET.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct ObjAttr
{
    [FieldOffset(0)] public ulong Pathname;
    [FieldOffset(8)] public uint BpfFd;
    [FieldOffset(12)] public uint FileFlags;
}

/// <summary>BPF_PROG_TEST_RUN (the <c>test</c> member).</summary>
[StructLayout(LayoutKind.Explicit, Size = 80)]
internal struct TestRunAttr
{
    [FieldOffset(0)] public uint ProgFd;
    [FieldOffset(4)] public uint Retval;
    [FieldOffset(8)] public uint DataSizeIn;
    /// <summary>In: size of the data_out buffer; out: size of the output packet.</summary>
    [FieldOffset(12)] public uint DataSizeOut;
    [FieldOffset(16)] public ulong DataIn;
    [FieldOffset(24)] public ulong DataOut;
    [FieldOffset(32)] public uint Repeat;
    /// <summary>Out: mean run time in ns per repetition.</summary>
    [FieldOffset(36)] public uint Duration;
    [FieldOffset(40)] public uint CtxSizeIn;
    [FieldOffset(44)] public uint CtxSizeOut;
    [FieldOffset(48)] public ulong CtxIn;
    [FieldOffset(56)] public ulong CtxOut;
    [FieldOffset(64)] public uint Flags;
    [FieldOffset(68)] public uint Cpu;
    [FieldOffset(72)] public uint BatchSize;
}

/// <summary>BPF_*_GET_NEXT_ID and BPF_*_GET_FD_BY_ID.</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct GetIdAttr
{
    [FieldOffset(0)] public uint StartOrId;
    [FieldOffset(4)] public uint NextId;
    [FieldOffset(8)] public uint OpenFlags;
}

/// <summary>BPF_OBJ_GET_INFO_BY_FD (the <c>info</c> member).</summary>
[StructLayout(LayoutKind.Explicit, Size = 16)]
internal struct InfoAttr
{
    [FieldOffset(0)] public uint BpfFd;
    [FieldOffset(4)] public uint InfoLen;
    [FieldOffset(8)] public ulong Info;
}

/// <summary>BPF_RAW_TRACEPOINT_OPEN (the <c>raw_tracepoint</c> member).</summary>
[StructLayout(LayoutKind.Explicit, Size = 24)]
internal struct RawTracepointAttr
{
    [FieldOffset(0)] public ulong Name;
    [FieldOffset(8)] public uint ProgFd;
    [FieldOffset(16)] public ulong Cookie;
}

/// <summary>BPF_BTF_LOAD.</summary>
[StructLayout(LayoutKind.Explicit, Size = 40)]
internal struct BtfLoadAttr
{
    [FieldOffset(0)] public ulong Btf;
    [FieldOffset(8)] public ulong BtfLogBuf;
    [FieldOffset(16)] public uint BtfSize;
    [FieldOffset(20)] public uint BtfLogSize;
    [FieldOffset(24)] public uint BtfLogLevel;
    [FieldOffset(28)] public uint BtfLogTrueSize;
    [FieldOffset(32)] public uint BtfFlags;
    [FieldOffset(36)] public int BtfTokenFd;
}

/// <summary>BPF_LINK_CREATE (the <c>link_create</c> member, with its per-attach-type union at offset 16).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal struct LinkCreateAttr
{
    [FieldOffset(0)] public uint ProgFd;
    /// <summary>target_fd or target_ifindex.</summary>
    [FieldOffset(4)] public uint Target;
    [FieldOffset(8)] public uint AttachType;
    [FieldOffset(12)] public uint Flags;
    /// <summary>target_btf_id; tcx.relative_fd; kprobe_multi.flags.</summary>
    [FieldOffset(16)] public uint U32At16;
    /// <summary>perf_event.bpf_cookie; iter_info.</summary>
    [FieldOffset(16)] public ulong U64At16;
    /// <summary>tcx.expected_revision; tracing.cookie.</summary>
    [FieldOffset(24)] public ulong U64At24;
}

/// <summary>BPF_LINK_DETACH, BPF_ENABLE_STATS, BPF_MAP_FREEZE-like single-u32 commands.</summary>
[StructLayout(LayoutKind.Explicit, Size = 8)]
internal struct SingleU32Attr
{
    [FieldOffset(0)] public uint Value;
}

/// <summary>struct perf_event_attr (include/uapi/linux/perf_event.h), PERF_ATTR_SIZE_VER7 (128 bytes).</summary>
[StructLayout(LayoutKind.Explicit, Size = 128)]
internal struct PerfEventAttr
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Size;
    [FieldOffset(8)] public ulong Config;
    /// <summary>sample_period or sample_freq (when the freq bit is set).</summary>
    [FieldOffset(16)] public ulong SamplePeriod;
    [FieldOffset(24)] public ulong SampleType;
    [FieldOffset(32)] public ulong ReadFormat;
    /// <summary>The bit-field word: disabled=bit0, inherit=1, ..., freq=10, watermark=14.</summary>
    [FieldOffset(40)] public ulong Flags;
    /// <summary>wakeup_events or wakeup_watermark.</summary>
    [FieldOffset(48)] public uint WakeupEvents;
    [FieldOffset(52)] public uint BpType;
    /// <summary>config1: kprobe_func / uprobe_path (a pointer to a NUL-terminated path).</summary>
    [FieldOffset(56)] public ulong Config1;
    /// <summary>config2: probe_offset.</summary>
    [FieldOffset(64)] public ulong Config2;
}
