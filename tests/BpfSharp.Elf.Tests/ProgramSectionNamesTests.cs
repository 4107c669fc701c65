using BpfSharp.Isa;
using System.Text.RegularExpressions;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>Section-name conventions (libbpf's "Program Types and ELF Sections" table) and the kernel enum numbers.</summary>
public sealed class ProgramSectionNamesTests(ITestOutputHelper output)
{
    public static TheoryData<string, BpfProgramType, BpfAttachType?, string?, BpfProgramFlags, bool> Cases() => new()
    {
        { "socket", BpfProgramType.SocketFilter, null, null, BpfProgramFlags.None, false },
        { "xdp", BpfProgramType.Xdp, BpfAttachType.Xdp, null, BpfProgramFlags.None, false },
        { "xdp.frags", BpfProgramType.Xdp, BpfAttachType.Xdp, null, BpfProgramFlags.XdpHasFrags, false },
        { "xdp/devmap", BpfProgramType.Xdp, BpfAttachType.XdpDevmap, null, BpfProgramFlags.None, false },
        { "xdp.frags/cpumap", BpfProgramType.Xdp, BpfAttachType.XdpCpumap, null, BpfProgramFlags.XdpHasFrags, false },
        { "tc", BpfProgramType.SchedCls, null, null, BpfProgramFlags.None, false },
        { "classifier", BpfProgramType.SchedCls, null, null, BpfProgramFlags.None, false },
        { "tc/ingress", BpfProgramType.SchedCls, BpfAttachType.TcxIngress, null, BpfProgramFlags.None, false },
        { "tcx/egress", BpfProgramType.SchedCls, BpfAttachType.TcxEgress, null, BpfProgramFlags.None, false },
        { "action", BpfProgramType.SchedAct, null, null, BpfProgramFlags.None, false },
        { "tracepoint/syscalls/sys_enter_openat", BpfProgramType.Tracepoint, null, "syscalls/sys_enter_openat", BpfProgramFlags.None, false },
        { "tp/sched/sched_switch", BpfProgramType.Tracepoint, null, "sched/sched_switch", BpfProgramFlags.None, false },
        { "raw_tracepoint/sched_switch", BpfProgramType.RawTracepoint, null, "sched_switch", BpfProgramFlags.None, false },
        { "raw_tp/sys_enter", BpfProgramType.RawTracepoint, null, "sys_enter", BpfProgramFlags.None, false },
        { "raw_tp.w/sys_enter", BpfProgramType.RawTracepointWritable, null, "sys_enter", BpfProgramFlags.None, false },
        { "tp_btf/sched_wakeup", BpfProgramType.Tracing, BpfAttachType.TraceRawTp, "sched_wakeup", BpfProgramFlags.None, false },
        { "kprobe/do_unlinkat", BpfProgramType.Kprobe, null, "do_unlinkat", BpfProgramFlags.None, false },
        { "kretprobe/do_unlinkat", BpfProgramType.Kprobe, null, "do_unlinkat", BpfProgramFlags.None, false },
        { "kprobe.multi/tcp_*", BpfProgramType.Kprobe, BpfAttachType.TraceKprobeMulti, "tcp_*", BpfProgramFlags.None, false },
        { "uprobe//bin/bash:readline", BpfProgramType.Kprobe, null, "/bin/bash:readline", BpfProgramFlags.None, false },
        { "uprobe.s/libc.so.6:malloc", BpfProgramType.Kprobe, null, "libc.so.6:malloc", BpfProgramFlags.Sleepable, false },
        { "uretprobe", BpfProgramType.Kprobe, null, null, BpfProgramFlags.None, false },
        { "usdt/libc.so.6:libc:setjmp", BpfProgramType.Kprobe, null, "libc.so.6:libc:setjmp", BpfProgramFlags.None, false },
        { "perf_event", BpfProgramType.PerfEvent, null, null, BpfProgramFlags.None, false },
        { "cgroup_skb/ingress", BpfProgramType.CgroupSkb, BpfAttachType.CgroupInetIngress, null, BpfProgramFlags.None, false },
        { "cgroup_skb/egress", BpfProgramType.CgroupSkb, BpfAttachType.CgroupInetEgress, null, BpfProgramFlags.None, false },
        { "cgroup/skb", BpfProgramType.CgroupSkb, null, null, BpfProgramFlags.None, false },
        { "cgroup/sock_create", BpfProgramType.CgroupSock, BpfAttachType.CgroupInetSockCreate, null, BpfProgramFlags.None, false },
        { "cgroup/connect4", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupInet4Connect, null, BpfProgramFlags.None, false },
        { "cgroup/sendmsg6", BpfProgramType.CgroupSockAddr, BpfAttachType.CgroupUdp6Sendmsg, null, BpfProgramFlags.None, false },
        { "cgroup/getsockopt", BpfProgramType.CgroupSockopt, BpfAttachType.CgroupGetsockopt, null, BpfProgramFlags.None, false },
        { "cgroup/sysctl", BpfProgramType.CgroupSysctl, BpfAttachType.CgroupSysctl, null, BpfProgramFlags.None, false },
        { "cgroup/dev", BpfProgramType.CgroupDevice, BpfAttachType.CgroupDevice, null, BpfProgramFlags.None, false },
        { "lsm/file_open", BpfProgramType.Lsm, BpfAttachType.LsmMac, "file_open", BpfProgramFlags.None, false },
        { "lsm.s/bprm_committed_creds", BpfProgramType.Lsm, BpfAttachType.LsmMac, "bprm_committed_creds", BpfProgramFlags.Sleepable, false },
        { "lsm_cgroup/socket_bind", BpfProgramType.Lsm, BpfAttachType.LsmCgroup, "socket_bind", BpfProgramFlags.None, false },
        { "fentry/tcp_connect", BpfProgramType.Tracing, BpfAttachType.TraceFentry, "tcp_connect", BpfProgramFlags.None, false },
        { "fexit/tcp_connect", BpfProgramType.Tracing, BpfAttachType.TraceFexit, "tcp_connect", BpfProgramFlags.None, false },
        { "fmod_ret/security_x", BpfProgramType.Tracing, BpfAttachType.ModifyReturn, "security_x", BpfProgramFlags.None, false },
        { "fentry.s/do_sys_open", BpfProgramType.Tracing, BpfAttachType.TraceFentry, "do_sys_open", BpfProgramFlags.Sleepable, false },
        { "freplace/handler", BpfProgramType.Ext, null, "handler", BpfProgramFlags.None, false },
        { "iter/task", BpfProgramType.Tracing, BpfAttachType.TraceIter, "task", BpfProgramFlags.None, false },
        { "syscall", BpfProgramType.Syscall, null, null, BpfProgramFlags.Sleepable, false },
        { "sk_msg", BpfProgramType.SkMsg, BpfAttachType.SkMsgVerdict, null, BpfProgramFlags.None, false },
        { "sk_skb", BpfProgramType.SkSkb, null, null, BpfProgramFlags.None, false },
        { "sk_skb/stream_parser", BpfProgramType.SkSkb, BpfAttachType.SkSkbStreamParser, null, BpfProgramFlags.None, false },
        { "sk_skb/stream_verdict", BpfProgramType.SkSkb, BpfAttachType.SkSkbStreamVerdict, null, BpfProgramFlags.None, false },
        { "sk_reuseport/migrate", BpfProgramType.SkReuseport, BpfAttachType.SkReuseportSelectOrMigrate, null, BpfProgramFlags.None, false },
        { "sk_lookup", BpfProgramType.SkLookup, BpfAttachType.SkLookup, null, BpfProgramFlags.None, false },
        { "sockops", BpfProgramType.SockOps, BpfAttachType.CgroupSockOps, null, BpfProgramFlags.None, false },
        { "flow_dissector", BpfProgramType.FlowDissector, BpfAttachType.FlowDissector, null, BpfProgramFlags.None, false },
        { "lwt_xmit", BpfProgramType.LwtXmit, null, null, BpfProgramFlags.None, false },
        { "struct_ops/tcp_init", BpfProgramType.StructOps, null, "tcp_init", BpfProgramFlags.None, false },
        { "netfilter", BpfProgramType.Netfilter, BpfAttachType.Netfilter, null, BpfProgramFlags.None, false },
        // "type" rules are exact: "socket1" and "xdp_prog" only match pre-1.0 prefix rules.
        { "socket1", BpfProgramType.SocketFilter, null, null, BpfProgramFlags.None, true },
        { "xdp_prog", BpfProgramType.Xdp, BpfAttachType.Xdp, null, BpfProgramFlags.None, true },
        // "type+" needs a '/' separator: "kprobe_x" is not "kprobe/...".
        { "kprobe_x", BpfProgramType.Kprobe, null, null, BpfProgramFlags.None, true },
        { "license_like", BpfProgramType.Unspecified, null, null, BpfProgramFlags.None, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Section_name_is_classified_like_libbpf(string name, BpfProgramType type, BpfAttachType? attach, string? target,
        BpfProgramFlags flags, bool legacy)
    {
        Assert.Equal(new ProgramSectionInfo(type, attach, target, flags, legacy), ProgramSectionNames.Classify(name));
    }

    /// <summary>Reads <c>enum NAME { ... }</c> from the installed uapi header (linux-libc-dev) into name/value pairs.</summary>
    private static List<(string Name, long Value)> ReadUapiEnum(string header, string name)
    {
        var m = Regex.Match(header, @"enum " + name + @" \{(.*?)\};", RegexOptions.Singleline);
        var body = Regex.Replace(m.Groups[1].Value, @"/\*.*?\*/|//[^\n]*", "", RegexOptions.Singleline);
        var result = new List<(string, long)>();
        long next = 0;
        foreach (var raw in body.Split(','))
        {
            var item = raw.Trim();
            if (item.Length == 0) continue;
            var parts = item.Split('=', 2, StringSplitOptions.TrimEntries);
            long value = next;
            if (parts.Length == 2)
                value = long.TryParse(parts[1], out var v) ? v : result.First(r => r.Item1 == parts[1]).Item2;
            result.Add((parts[0], value));
            next = value + 1;
        }
        return result;
    }

    private static string Normalize(string s) => s.Replace("_", "", StringComparison.Ordinal).ToLowerInvariant();

    [Theory]
    [InlineData("bpf_prog_type", "BPF_PROG_TYPE_", typeof(BpfProgramType))]
    [InlineData("bpf_attach_type", "BPF_", typeof(BpfAttachType))]
    [InlineData("bpf_map_type", "BPF_MAP_TYPE_", typeof(BpfMapType))]
    public void Enum_numbers_match_the_kernel_uapi_header(string enumName, string prefix, Type ours)
    {
        const string header = "/usr/include/linux/bpf.h";
        if (!File.Exists(header)) { output.WriteLine("SKIPPED: linux-libc-dev headers not installed"); return; }
        var byName = Enum.GetValues(ours).Cast<object>().ToDictionary(v => Normalize(v.ToString()!), v => Convert.ToInt64(v));
        // Our names drop the prefix and spell some words out; these are the differing spellings.
        var aliases = new Dictionary<string, string>
        {
            ["unspec"] = "unspecified", ["cgroupstoragedeprecated"] = "cgroupstorage",
        };
        int compared = 0;
        foreach (var (name, value) in ReadUapiEnum(File.ReadAllText(header), enumName))
        {
            if (name.StartsWith("__MAX", StringComparison.Ordinal) || name.StartsWith("MAX_", StringComparison.Ordinal)) continue;
            var key = Normalize(name.StartsWith(prefix, StringComparison.Ordinal) ? name[prefix.Length..] : name);
            key = aliases.GetValueOrDefault(key, key);
            Assert.True(byName.TryGetValue(key, out var ourValue), $"{name} ({value}) has no counterpart in {ours.Name}");
            Assert.Equal(value, ourValue);
            compared++;
        }
        output.WriteLine($"{compared} enumerators of enum {enumName} agree with {header}");
        Assert.True(compared > 20);
    }
}
