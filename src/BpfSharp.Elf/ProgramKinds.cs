namespace BpfSharp.Elf;

/// <summary>eBPF program types, numbered as the kernel's <c>enum bpf_prog_type</c>.</summary>
public enum BpfProgramType : uint
{
    /// <summary>Unknown or unspecified.</summary>
    Unspecified = 0,
    /// <summary>Socket filter.</summary>
    SocketFilter = 1,
    /// <summary>kprobe/uprobe.</summary>
    Kprobe = 2,
    /// <summary>tc classifier.</summary>
    SchedCls = 3,
    /// <summary>tc action.</summary>
    SchedAct = 4,
    /// <summary>Tracepoint.</summary>
    Tracepoint = 5,
    /// <summary>XDP.</summary>
    Xdp = 6,
    /// <summary>Perf event.</summary>
    PerfEvent = 7,
    /// <summary>cgroup skb.</summary>
    CgroupSkb = 8,
    /// <summary>cgroup sock.</summary>
    CgroupSock = 9,
    /// <summary>Lightweight tunnel input.</summary>
    LwtIn = 10,
    /// <summary>Lightweight tunnel output.</summary>
    LwtOut = 11,
    /// <summary>Lightweight tunnel transmit.</summary>
    LwtXmit = 12,
    /// <summary>Socket operations.</summary>
    SockOps = 13,
    /// <summary>sk_skb.</summary>
    SkSkb = 14,
    /// <summary>cgroup device.</summary>
    CgroupDevice = 15,
    /// <summary>sk_msg.</summary>
    SkMsg = 16,
    /// <summary>Raw tracepoint.</summary>
    RawTracepoint = 17,
    /// <summary>cgroup sock_addr.</summary>
    CgroupSockAddr = 18,
    /// <summary>seg6local lightweight tunnel.</summary>
    LwtSeg6Local = 19,
    /// <summary>LIRC mode2.</summary>
    LircMode2 = 20,
    /// <summary>SO_REUSEPORT selection.</summary>
    SkReuseport = 21,
    /// <summary>Flow dissector.</summary>
    FlowDissector = 22,
    /// <summary>cgroup sysctl.</summary>
    CgroupSysctl = 23,
    /// <summary>Writable raw tracepoint.</summary>
    RawTracepointWritable = 24,
    /// <summary>cgroup sockopt.</summary>
    CgroupSockopt = 25,
    /// <summary>BTF-based tracing (fentry, fexit, tp_btf, iter).</summary>
    Tracing = 26,
    /// <summary>struct_ops.</summary>
    StructOps = 27,
    /// <summary>freplace extension.</summary>
    Ext = 28,
    /// <summary>LSM.</summary>
    Lsm = 29,
    /// <summary>Socket lookup.</summary>
    SkLookup = 30,
    /// <summary>Syscall program.</summary>
    Syscall = 31,
    /// <summary>Netfilter.</summary>
    Netfilter = 32,
}

/// <summary>Attach types, numbered as the kernel's <c>enum bpf_attach_type</c>.</summary>
public enum BpfAttachType : uint
{
    /// <summary>cgroup ingress.</summary>
    CgroupInetIngress = 0,
    /// <summary>cgroup egress.</summary>
    CgroupInetEgress = 1,
    /// <summary>Socket creation.</summary>
    CgroupInetSockCreate = 2,
    /// <summary>Socket operations.</summary>
    CgroupSockOps = 3,
    /// <summary>Stream parser.</summary>
    SkSkbStreamParser = 4,
    /// <summary>Stream verdict.</summary>
    SkSkbStreamVerdict = 5,
    /// <summary>cgroup device.</summary>
    CgroupDevice = 6,
    /// <summary>sk_msg verdict.</summary>
    SkMsgVerdict = 7,
    /// <summary>IPv4 bind.</summary>
    CgroupInet4Bind = 8,
    /// <summary>IPv6 bind.</summary>
    CgroupInet6Bind = 9,
    /// <summary>IPv4 connect.</summary>
    CgroupInet4Connect = 10,
    /// <summary>IPv6 connect.</summary>
    CgroupInet6Connect = 11,
    /// <summary>IPv4 post-bind.</summary>
    CgroupInet4PostBind = 12,
    /// <summary>IPv6 post-bind.</summary>
    CgroupInet6PostBind = 13,
    /// <summary>UDPv4 sendmsg.</summary>
    CgroupUdp4Sendmsg = 14,
    /// <summary>UDPv6 sendmsg.</summary>
    CgroupUdp6Sendmsg = 15,
    /// <summary>LIRC mode2.</summary>
    LircMode2 = 16,
    /// <summary>Flow dissector.</summary>
    FlowDissector = 17,
    /// <summary>cgroup sysctl.</summary>
    CgroupSysctl = 18,
    /// <summary>UDPv4 recvmsg.</summary>
    CgroupUdp4Recvmsg = 19,
    /// <summary>UDPv6 recvmsg.</summary>
    CgroupUdp6Recvmsg = 20,
    /// <summary>getsockopt.</summary>
    CgroupGetsockopt = 21,
    /// <summary>setsockopt.</summary>
    CgroupSetsockopt = 22,
    /// <summary>BTF raw tracepoint.</summary>
    TraceRawTp = 23,
    /// <summary>fentry.</summary>
    TraceFentry = 24,
    /// <summary>fexit.</summary>
    TraceFexit = 25,
    /// <summary>fmod_ret.</summary>
    ModifyReturn = 26,
    /// <summary>LSM hook.</summary>
    LsmMac = 27,
    /// <summary>Iterator.</summary>
    TraceIter = 28,
    /// <summary>IPv4 getpeername.</summary>
    CgroupInet4Getpeername = 29,
    /// <summary>IPv6 getpeername.</summary>
    CgroupInet6Getpeername = 30,
    /// <summary>IPv4 getsockname.</summary>
    CgroupInet4Getsockname = 31,
    /// <summary>IPv6 getsockname.</summary>
    CgroupInet6Getsockname = 32,
    /// <summary>XDP in a devmap.</summary>
    XdpDevmap = 33,
    /// <summary>Socket release.</summary>
    CgroupInetSockRelease = 34,
    /// <summary>XDP in a cpumap.</summary>
    XdpCpumap = 35,
    /// <summary>Socket lookup.</summary>
    SkLookup = 36,
    /// <summary>XDP.</summary>
    Xdp = 37,
    /// <summary>sk_skb verdict.</summary>
    SkSkbVerdict = 38,
    /// <summary>Reuseport select.</summary>
    SkReuseportSelect = 39,
    /// <summary>Reuseport select or migrate.</summary>
    SkReuseportSelectOrMigrate = 40,
    /// <summary>Perf event.</summary>
    PerfEvent = 41,
    /// <summary>kprobe.multi.</summary>
    TraceKprobeMulti = 42,
    /// <summary>LSM cgroup.</summary>
    LsmCgroup = 43,
    /// <summary>struct_ops.</summary>
    StructOps = 44,
    /// <summary>Netfilter.</summary>
    Netfilter = 45,
    /// <summary>tcx ingress.</summary>
    TcxIngress = 46,
    /// <summary>tcx egress.</summary>
    TcxEgress = 47,
    /// <summary>uprobe.multi.</summary>
    TraceUprobeMulti = 48,
    /// <summary>Unix connect.</summary>
    CgroupUnixConnect = 49,
    /// <summary>Unix sendmsg.</summary>
    CgroupUnixSendmsg = 50,
    /// <summary>Unix recvmsg.</summary>
    CgroupUnixRecvmsg = 51,
    /// <summary>Unix getpeername.</summary>
    CgroupUnixGetpeername = 52,
    /// <summary>Unix getsockname.</summary>
    CgroupUnixGetsockname = 53,
    /// <summary>netkit primary.</summary>
    NetkitPrimary = 54,
    /// <summary>netkit peer.</summary>
    NetkitPeer = 55,
    /// <summary>kprobe.session.</summary>
    TraceKprobeSession = 56,
}

/// <summary>Load flags implied by a section name (<c>prog_flags</c> bits).</summary>
[Flags]
public enum BpfProgramFlags : uint
{
    /// <summary>None.</summary>
    None = 0,
    /// <summary><c>BPF_F_SLEEPABLE</c>: the program may sleep (".s" sections).</summary>
    Sleepable = 1 << 4,
    /// <summary><c>BPF_F_XDP_HAS_FRAGS</c>: the XDP program handles multi-buffer packets (".frags" sections).</summary>
    XdpHasFrags = 1 << 5,
}

/// <summary>What a section name says about the programs in it.</summary>
/// <param name="Type">Program type.</param>
/// <param name="ExpectedAttachType">The expected attach type, when the convention sets one.</param>
/// <param name="AttachTarget">What to attach to (function, tracepoint "category/name", ...), when the name carries it.</param>
/// <param name="Flags">Load flags the name implies.</param>
/// <param name="IsLegacyMatch">True when only a legacy prefix rule (as in pre-1.0 libbpf) matched the name.</param>
public readonly record struct ProgramSectionInfo(BpfProgramType Type, BpfAttachType? ExpectedAttachType, string? AttachTarget,
    BpfProgramFlags Flags, bool IsLegacyMatch);

/// <summary>libbpf's section-name conventions for programs (<c>SEC("...")</c>).</summary>
public static class ProgramSectionNames
{
    // Pattern forms, following libbpf: "name" matches exactly; "name+" matches "name" or "name/<target>".
    private readonly record struct Rule(string Pattern, BpfProgramType Type, BpfAttachType? Attach, BpfProgramFlags Flags = BpfProgramFlags.None);

    private const BpfProgramFlags S = BpfProgramFlags.Sleepable;
    private const BpfProgramFlags F = BpfProgramFlags.XdpHasFrags;

    private static readonly Rule[] Rules =
    [
        new("socket", BpfProgramType.SocketFilter, null),
        new("sk_reuseport/migrate", BpfProgramType.SkReuseport, BpfAttachType.SkReuseportSelectOrMigrate),
        new("sk_reuseport", BpfProgramType.SkReuseport, BpfAttachType.SkReuseportSelect),
        new("kprobe+", BpfProgramType.Kprobe, null),
        new("uprobe+", BpfProgramType.Kprobe, null),
        new("uprobe.s+", BpfProgramType.Kprobe, null, S),
        new("kretprobe+", BpfProgramType.Kprobe, null),
        new("uretprobe+", BpfProgramType.Kprobe, null),
        new("uretprobe.s+", BpfProgramType.Kprobe, null, S),
        new("kprobe.multi+", BpfProgramType.Kprobe, BpfAttachType.TraceKprobeMulti),
        new("kretprobe.multi+", BpfProgramType.Kprobe, BpfAttachType.TraceKprobeMulti),
        new("kprobe.session+", BpfProgramType.Kprobe, BpfAttachType.TraceKprobeSession),
        new("uprobe.multi+", BpfProgramType.Kprobe, BpfAttachType.TraceUprobeMulti),
        new("uretprobe.multi+", BpfProgramType.Kprobe, BpfAttachType.TraceUprobeMulti),
        new("uprobe.multi.s+", BpfProgramType.Kprobe, BpfAttachType.TraceUprobeMulti, S),
        new("uretprobe.multi.s+", BpfProgramType.Kprobe, BpfAttachType.TraceUprobeMulti, S),
        new("ksyscall+", BpfProgramType.Kprobe, null),
        new("kretsyscall+", BpfProgramType.Kprobe, null),
        new("usdt+", BpfProgramType.Kprobe, null),
        new("usdt.s+", BpfProgramType.Kprobe, null, S),
        new("tc/ingress", BpfProgramType.SchedCls, BpfAttachType.TcxIngress),
        new("tc/egress", BpfProgramType.SchedCls, BpfAttachType.TcxEgress),
        new("tcx/ingress", BpfProgramType.SchedCls, BpfAttachType.TcxIngress),
        new("tcx/egress", BpfProgramType.SchedCls, BpfAttachType.TcxEgress),
        new("tc", BpfProgramType.SchedCls, null),
        new("classifier", BpfProgramType.SchedCls, null),
        new("action", BpfProgramType.SchedAct, null),
        new("netkit/primary", BpfProgramType.SchedCls, BpfAttachType.NetkitPrimary),
        new("netkit/peer", BpfProgramType.SchedCls, BpfAttachType.NetkitPeer),
        new("tracepoint+", BpfProgramType.Tracepoint, null),
        new("tp+", BpfProgramType.Tracepoint, null),
        new("raw_tracepoint+", BpfProgramType.RawTracepoint, null),
        new("raw_tp+", BpfProgramType.RawTracepoint, null),
        new("raw_tracepoint.w+", BpfProgramType.RawTracepointWritable, null),
        new("raw_tp.w+", BpfProgramType.RawTracepointWritable, null),
        new("tp_btf+", BpfProgramType.Tracing, BpfAttachType.TraceRawTp),
        new("fentry+", BpfProgramType.Tracing, BpfAttachType.TraceFentry),
        new("fmod_ret+", BpfProgramType.Tracing, BpfAttachType.ModifyReturn),
        new("fexit+", BpfProgramType.Tracing, BpfAttachType.TraceFexit),
        new("fentry.s+", BpfProgramType.Tracing, BpfAttachType.TraceFentry, S),
        new("fmod_ret.s+", BpfProgramType.Tracing, BpfAttachType.ModifyReturn, S),
        new("fexit.s+", BpfProgramType.Tracing, BpfAttachType.TraceFexit, S),
        new("freplace+", BpfProgramType.Ext, null),
        new("lsm+", BpfProgramType.Lsm, BpfAttachType.LsmMac),
        new("lsm.s+", BpfProgramType.Lsm, BpfAttachType.LsmMac, S),
        new("lsm_cgroup+", BpfProgramType.Lsm, BpfAttachType.LsmCgroup),
        new("iter+", BpfProgramType.Tracing, BpfAttachType.TraceIter),
        new("iter.s+", BpfProgramType.Tracing, BpfAttachType.TraceIter, S),
        new("syscall", BpfProgramType.Syscall, null, S),
        new("xdp.frags/devmap", BpfProgramType.Xdp, BpfAttachType.XdpDevmap, F),
        new("xdp/devmap", BpfProgramType.Xdp, BpfAttachType.XdpDevmap),
        new("xdp.frags/cpumap", BpfProgramType.Xdp, BpfAttachType.XdpCpumap, F),
        new("xdp/cpumap", BpfProgramType.Xdp, BpfAttachType.XdpCpumap),
        new("xdp.frags", BpfProgramType.Xdp, BpfAttachType.Xdp, F),
        new("xdp", BpfProgramType.Xdp, BpfAttachType.Xdp),
        new("perf_event", BpfProgramType.PerfEvent, null),
        new("lwt_in", BpfProgramType.LwtIn, null),
        new("lwt_out", BpfProgramType.LwtOut, null),
        new("lwt_xmit", BpfProgramType.LwtXmit, null),
        new("lwt_seg6local", BpfProgramType.LwtSeg6Local, null),
        new("sockops", BpfProgramType.SockOps, BpfAttachType.CgroupSockOps),
        new("sk_skb/stream_parser", BpfProgramType.SkSkb, BpfAttachType.SkSkbStreamParser),
        new("sk_skb/stream_verdict", BpfProgramType.SkSkb, BpfAttachType.SkSkbStreamVerdict),
        new("sk_skb/verdict", BpfProgramType.SkSkb, BpfAttachType.SkSkbVerdict),
        new("sk_skb", BpfProgramType.SkSkb, null),
        new("sk_msg", BpfProgramType.SkMsg, BpfAttachType.SkMsgVerdict),
        new("lirc_mode2", BpfProgramType.LircMode2, BpfAttachType.LircMode2),
        new("flow_dissector", BpfProgramType.FlowDissector, BpfAttachType.FlowDissector),
        new("cgroup_skb/ingress", BpfProgramType.CgroupSkb, BpfAttachType.CgroupInetIngress),
        new("cgroup_skb/egress", BpfProgramType.CgroupSkb, BpfAttachType.CgroupInetEgress),
        new("cgroup/skb", BpfProgramType.CgroupSkb, null),
        new("cgroup/sock_create", BpfProgramType.CgroupSock, BpfAttachType.CgroupInetSockCreate),
        new("cgroup/sock_release", BpfProgramType.CgroupSock, BpfAttachType.CgroupInetSockRelease),
        new("cgroup/sock", BpfProgramType.CgroupSock, BpfAttachType.CgroupInetSockCreate),
        new("cgroup/post_bind4", BpfProgramType.CgroupSock, BpfAttachType.CgroupInet4PostBind),
        new("cgroup/post_bind6", BpfProgramType.CgroupSock, BpfAttachType.CgroupInet6PostBind),
        new("cgroup/bind4", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet4Bind),
        new("cgroup/bind6", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet6Bind),
        new("cgroup/connect4", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet4Connect),
        new("cgroup/connect6", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet6Connect),
        new("cgroup/connect_unix", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUnixConnect),
        new("cgroup/sendmsg4", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUdp4Sendmsg),
        new("cgroup/sendmsg6", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUdp6Sendmsg),
        new("cgroup/sendmsg_unix", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUnixSendmsg),
        new("cgroup/recvmsg4", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUdp4Recvmsg),
        new("cgroup/recvmsg6", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUdp6Recvmsg),
        new("cgroup/recvmsg_unix", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUnixRecvmsg),
        new("cgroup/getpeername4", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet4Getpeername),
        new("cgroup/getpeername6", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet6Getpeername),
        new("cgroup/getpeername_unix", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUnixGetpeername),
        new("cgroup/getsockname4", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet4Getsockname),
        new("cgroup/getsockname6", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet6Getsockname),
        new("cgroup/getsockname_unix", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUnixGetsockname),
        new("cgroup/sysctl", BpfProgramType.CgroupSysctl, BpfAttachType.CgroupSysctl),
        new("cgroup/getsockopt", BpfProgramType.CgroupSockopt, BpfAttachType.CgroupGetsockopt),
        new("cgroup/setsockopt", BpfProgramType.CgroupSockopt, BpfAttachType.CgroupSetsockopt),
        new("cgroup/dev", BpfProgramType.CgroupDevice, BpfAttachType.CgroupDevice),
        new("struct_ops+", BpfProgramType.StructOps, null),
        new("struct_ops.s+", BpfProgramType.StructOps, null, S),
        new("sk_lookup", BpfProgramType.SkLookup, BpfAttachType.SkLookup),
        new("netfilter", BpfProgramType.Netfilter, BpfAttachType.Netfilter),
    ];

    // Pre-1.0 libbpf matched by prefix; old objects rely on it ("socket1", "kprobe/...", "xdp_prog", "classifier_x").
    private static readonly Rule[] LegacyPrefixes =
    [
        new("socket", BpfProgramType.SocketFilter, null),
        new("kprobe", BpfProgramType.Kprobe, null),
        new("kretprobe", BpfProgramType.Kprobe, null),
        new("uprobe", BpfProgramType.Kprobe, null),
        new("uretprobe", BpfProgramType.Kprobe, null),
        new("classifier", BpfProgramType.SchedCls, null),
        new("action", BpfProgramType.SchedAct, null),
        new("tracepoint", BpfProgramType.Tracepoint, null),
        new("raw_tracepoint", BpfProgramType.RawTracepoint, null),
        new("xdp", BpfProgramType.Xdp, BpfAttachType.Xdp),
        new("perf_event", BpfProgramType.PerfEvent, null),
        new("lwt_in", BpfProgramType.LwtIn, null),
        new("lwt_out", BpfProgramType.LwtOut, null),
        new("lwt_xmit", BpfProgramType.LwtXmit, null),
        new("lwt_seg6local", BpfProgramType.LwtSeg6Local, null),
        new("cgroup/skb", BpfProgramType.CgroupSkb, null),
        new("cgroup/sock", BpfProgramType.CgroupSock, BpfAttachType.CgroupInetSockCreate),
        new("cgroup/dev", BpfProgramType.CgroupDevice, BpfAttachType.CgroupDevice),
        new("sockops", BpfProgramType.SockOps, BpfAttachType.CgroupSockOps),
        new("sk_skb", BpfProgramType.SkSkb, null),
        new("sk_msg", BpfProgramType.SkMsg, BpfAttachType.SkMsgVerdict),
        new("tc", BpfProgramType.SchedCls, null),
    ];

    /// <summary>
    /// Classifies a section name. libbpf's current rules come first; when none matches, pre-1.0 prefix rules are tried
    /// (<see cref="ProgramSectionInfo.IsLegacyMatch"/>); when nothing matches the type is <see cref="BpfProgramType.Unspecified"/>.
    /// </summary>
    public static ProgramSectionInfo Classify(string sectionName)
    {
        ArgumentNullException.ThrowIfNull(sectionName);
        foreach (var rule in Rules)
        {
            bool plus = rule.Pattern.EndsWith('+');
            var stem = plus ? rule.Pattern[..^1] : rule.Pattern;
            if (sectionName == stem)
                return new ProgramSectionInfo(rule.Type, rule.Attach, null, rule.Flags, false);
            if (plus && sectionName.Length > stem.Length + 1 && sectionName.StartsWith(stem, StringComparison.Ordinal)
                && sectionName[stem.Length] == '/')
                return new ProgramSectionInfo(rule.Type, rule.Attach, sectionName[(stem.Length + 1)..], rule.Flags, false);
        }
        foreach (var rule in LegacyPrefixes)
        {
            if (!sectionName.StartsWith(rule.Pattern, StringComparison.Ordinal)) continue;
            var rest = sectionName[rule.Pattern.Length..];
            string? target = rest.StartsWith('/') && rest.Length > 1 ? rest[1..] : null;
            return new ProgramSectionInfo(rule.Type, rule.Attach, target, rule.Flags, true);
        }
        return new ProgramSectionInfo(BpfProgramType.Unspecified, null, null, BpfProgramFlags.None, true);
    }
}
