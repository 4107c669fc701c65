using System.Runtime.InteropServices;

namespace BpfSharp.Linux.Native;

/// <summary>struct bpf_prog_info (232 bytes on 6.x; the kernel copies min(its size, ours)).</summary>
[StructLayout(LayoutKind.Explicit, Size = 232)]
internal unsafe struct BpfProgInfoRaw
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public fixed byte Tag[8];
    [FieldOffset(16)] public uint JitedProgLen;
    [FieldOffset(20)] public uint XlatedProgLen;
    [FieldOffset(24)] public ulong JitedProgInsns;
    [FieldOffset(32)] public ulong XlatedProgInsns;
    [FieldOffset(40)] public ulong LoadTime;
    [FieldOffset(48)] public uint CreatedByUid;
    [FieldOffset(52)] public uint NrMapIds;
    [FieldOffset(56)] public ulong MapIds;
    [FieldOffset(64)] public fixed byte Name[16];
    [FieldOffset(80)] public uint Ifindex;
    [FieldOffset(84)] public uint GplCompatibleBits;
    [FieldOffset(88)] public ulong NetnsDev;
    [FieldOffset(96)] public ulong NetnsIno;
    [FieldOffset(128)] public uint BtfId;
    [FieldOffset(192)] public ulong RunTimeNs;
    [FieldOffset(200)] public ulong RunCnt;
    [FieldOffset(208)] public ulong RecursionMisses;
    [FieldOffset(216)] public uint VerifiedInsns;
    [FieldOffset(220)] public uint AttachBtfObjId;
    [FieldOffset(224)] public uint AttachBtfId;
}

/// <summary>struct bpf_map_info (104 bytes on 6.x).</summary>
[StructLayout(LayoutKind.Explicit, Size = 104)]
internal unsafe struct BpfMapInfoRaw
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public uint KeySize;
    [FieldOffset(12)] public uint ValueSize;
    [FieldOffset(16)] public uint MaxEntries;
    [FieldOffset(20)] public uint MapFlags;
    [FieldOffset(24)] public fixed byte Name[16];
    [FieldOffset(40)] public uint Ifindex;
    [FieldOffset(44)] public uint BtfVmlinuxValueTypeId;
    [FieldOffset(48)] public ulong NetnsDev;
    [FieldOffset(56)] public ulong NetnsIno;
    [FieldOffset(64)] public uint BtfId;
    [FieldOffset(68)] public uint BtfKeyTypeId;
    [FieldOffset(72)] public uint BtfValueTypeId;
    [FieldOffset(80)] public ulong MapExtra;
}

/// <summary>struct bpf_link_info (64 bytes: type, id, prog_id, then a per-type union at offset 16).</summary>
[StructLayout(LayoutKind.Explicit, Size = 64)]
internal unsafe struct BpfLinkInfoRaw
{
    [FieldOffset(0)] public uint Type;
    [FieldOffset(4)] public uint Id;
    [FieldOffset(8)] public uint ProgId;
    [FieldOffset(16)] public fixed byte Union[48];
}
