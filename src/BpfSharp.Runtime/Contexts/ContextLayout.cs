namespace BpfSharp.Runtime.Contexts;

/// <summary>A uapi context field that programs read as a 32-bit value but use as a pointer (xdp_md.data and the like).</summary>
/// <param name="Name">Field name, for messages.</param>
/// <param name="UapiOffset">Offset in the uapi struct the program was compiled against.</param>
/// <param name="RuntimeOffset">Offset of the 64-bit pointer in the runtime struct the load is rewritten to.</param>
public readonly record struct PointerField(string Name, int UapiOffset, int RuntimeOffset);

/// <summary>
/// How a program type's context looks to the program (the uapi struct) and to the runtime: the uapi fields keep their
/// offsets, and each pointer field gets a full 64-bit copy after the uapi part. <see cref="ContextAccessRewriter"/>
/// turns the program's 32-bit loads of pointer fields into 64-bit loads of those copies, as the kernel's context
/// conversion does for its own structures.
/// </summary>
public sealed class ContextLayout
{
    /// <summary>Creates a layout.</summary>
    public ContextLayout(string name, int uapiSize, bool uapiWritable, IReadOnlyList<PointerField> pointerFields)
    {
        Name = name;
        UapiSize = uapiSize;
        UapiWritable = uapiWritable;
        PointerFields = pointerFields;
        int end = uapiSize;
        foreach (var f in pointerFields) end = Math.Max(end, f.RuntimeOffset + 8);
        RuntimeSize = (end + 7) & ~7;
    }

    /// <summary>The uapi struct name (<c>xdp_md</c>, <c>__sk_buff</c>).</summary>
    public string Name { get; }

    /// <summary>Size of the uapi struct: programs may access [0, UapiSize).</summary>
    public int UapiSize { get; }

    /// <summary>Whether programs may store into the uapi part (e.g. <c>__sk_buff.mark</c>, <c>cb[]</c>).</summary>
    public bool UapiWritable { get; }

    /// <summary>Fields whose 32-bit loads are rewritten into 64-bit pointer loads.</summary>
    public IReadOnlyList<PointerField> PointerFields { get; }

    /// <summary>Size of the runtime struct (uapi part followed by the pointer copies).</summary>
    public int RuntimeSize { get; }

    /// <summary>The pointer field at a uapi offset, or null.</summary>
    public PointerField? FieldAt(int uapiOffset)
    {
        foreach (var f in PointerFields) if (f.UapiOffset == uapiOffset) return f;
        return null;
    }

    /// <summary><c>struct xdp_md</c>: data, data_end, data_meta, ingress_ifindex, rx_queue_index, egress_ifindex (all u32).</summary>
    public static ContextLayout Xdp { get; } = new("xdp_md", 24, uapiWritable: false,
        [new("data", 0, 24), new("data_end", 4, 32), new("data_meta", 8, 40)]);

    /// <summary>
    /// <c>struct __sk_buff</c> (uapi, 192 bytes): len@0, pkt_type@4, mark@8, queue_mapping@12, protocol@16,
    /// vlan_present@20, vlan_tci@24, vlan_proto@28, priority@32, ingress_ifindex@36, ifindex@40, tc_index@44,
    /// cb[5]@48, hash@68, tc_classid@72, data@76, data_end@80, napi_id@84, ..., data_meta@140.
    /// </summary>
    public static ContextLayout SkBuff { get; } = new("__sk_buff", 192, uapiWritable: true,
        [new("data", 76, 192), new("data_end", 80, 200), new("data_meta", 140, 208)]);

    /// <summary>Offsets of <c>__sk_buff</c> scalar fields the runtime fills.</summary>
    public static class SkBuffOffsets
    {
        /// <summary>len</summary>
        public const int Len = 0;
        /// <summary>pkt_type</summary>
        public const int PktType = 4;
        /// <summary>mark</summary>
        public const int Mark = 8;
        /// <summary>queue_mapping</summary>
        public const int QueueMapping = 12;
        /// <summary>protocol (network byte order)</summary>
        public const int Protocol = 16;
        /// <summary>priority</summary>
        public const int Priority = 32;
        /// <summary>ingress_ifindex</summary>
        public const int IngressIfindex = 36;
        /// <summary>ifindex</summary>
        public const int Ifindex = 40;
        /// <summary>cb[0]; cb has 5 u32 entries</summary>
        public const int Cb = 48;
        /// <summary>hash</summary>
        public const int Hash = 68;
    }

    /// <summary>Offsets of <c>xdp_md</c> scalar fields.</summary>
    public static class XdpOffsets
    {
        /// <summary>ingress_ifindex</summary>
        public const int IngressIfindex = 12;
        /// <summary>rx_queue_index</summary>
        public const int RxQueueIndex = 16;
        /// <summary>egress_ifindex</summary>
        public const int EgressIfindex = 20;
    }
}
