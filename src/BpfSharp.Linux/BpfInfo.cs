using BpfSharp.Isa;
namespace BpfSharp.Linux;

/// <summary>What the kernel reports about a loaded program (BPF_OBJ_GET_INFO_BY_FD, <c>struct bpf_prog_info</c>).</summary>
/// <param name="Type">Program type.</param>
/// <param name="Id">Kernel-wide program id.</param>
/// <param name="Tag">The 8-byte program tag (hash of the instructions) as lowercase hex.</param>
/// <param name="Name">Program name (up to 15 characters).</param>
/// <param name="JitedLength">Bytes of JIT-compiled native code.</param>
/// <param name="XlatedLength">Bytes of the kernel-rewritten (translated) instructions.</param>
/// <param name="VerifiedInstructions">Instructions the verifier processed.</param>
/// <param name="RunCount">Runs counted while BPF statistics were enabled.</param>
/// <param name="RunTimeNs">Total run time counted while statistics were enabled.</param>
/// <param name="MapIds">Ids of the maps the program uses.</param>
public sealed record ProgramInfo(
    BpfProgramType Type, uint Id, string Tag, string Name, uint JitedLength, uint XlatedLength,
    uint VerifiedInstructions, ulong RunCount, ulong RunTimeNs, IReadOnlyList<uint> MapIds);

/// <summary>What the kernel reports about a map (<c>struct bpf_map_info</c>).</summary>
/// <param name="Type">Map type.</param>
/// <param name="Id">Kernel-wide map id.</param>
/// <param name="KeySize">Key size in bytes.</param>
/// <param name="ValueSize">Value size in bytes.</param>
/// <param name="MaxEntries">Capacity.</param>
/// <param name="Flags">Creation flags.</param>
/// <param name="Name">Map name (up to 15 characters).</param>
public sealed record MapInfo(BpfMapType Type, uint Id, uint KeySize, uint ValueSize, uint MaxEntries, MapCreateFlags Flags, string Name);

/// <summary>What the kernel reports about a link (<c>struct bpf_link_info</c>).</summary>
/// <param name="Type">Link type.</param>
/// <param name="Id">Kernel-wide link id.</param>
/// <param name="ProgramId">Id of the attached program.</param>
/// <param name="Ifindex">For XDP and tcx links, the interface index; otherwise 0.</param>
public sealed record LinkInfo(BpfLinkType Type, uint Id, uint ProgramId, uint Ifindex);
