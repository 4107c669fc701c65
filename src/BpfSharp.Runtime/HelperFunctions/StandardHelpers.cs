using System.Diagnostics;
using System.Globalization;
using System.Text;
using BpfSharp.Isa;
using BpfSharp.Runtime.Contexts;

namespace BpfSharp.Runtime.HelperFunctions;

/// <summary>
/// The helpers that need no maps: time, random numbers, CPU id, tracing output, string formatting, checksums,
/// current-task facts (host-provided), probe reads of host-granted memory, and the XDP/skb packet helpers.
/// Every pointer argument is checked against the program's granted memory before use.
/// </summary>
public static unsafe class StandardHelpers
{
    private static readonly long BootTimestamp = Stopwatch.GetTimestamp();

    [ThreadStatic]
    private static ulong _prandomState;

    /// <summary>Registers every helper of this class into <paramref name="table"/>.</summary>
    public static HelperTable RegisterAll(HelperTable table)
    {
        ArgumentNullException.ThrowIfNull(table);
        Add(table, "ktime_get_ns", static (_, _, _, _, _, _) => MonotonicNs());
        Add(table, "ktime_get_boot_ns", static (_, _, _, _, _, _) => MonotonicNs());
        Add(table, "ktime_get_coarse_ns", static (_, _, _, _, _, _) => MonotonicNs() / 4_000_000 * 4_000_000);
        Add(table, "jiffies64", static (_, _, _, _, _, _) => MonotonicNs() / 4_000_000); // HZ = 250
        Add(table, "get_prandom_u32", static (_, _, _, _, _, _) => NextRandom());
        Add(table, "get_smp_processor_id", static (c, _, _, _, _, _) => (ulong)c.CpuId);
        Add(table, "get_numa_node_id", static (_, _, _, _, _, _) => 0);
        Add(table, "get_current_pid_tgid", static (c, _, _, _, _, _) => c.CurrentPidTgid);
        Add(table, "get_current_uid_gid", static (c, _, _, _, _, _) => c.CurrentUidGid);
        Add(table, "get_current_comm", GetCurrentComm);
        Add(table, "trace_printk", TracePrintk);
        Add(table, "snprintf", Snprintf);
        Add(table, "strncmp", Strncmp);
        Add(table, "csum_diff", CsumDiff);
        Add(table, "probe_read", (c, d, s, p, _, _) => ProbeRead(c, d, s, p, str: false));
        Add(table, "probe_read_kernel", (c, d, s, p, _, _) => ProbeRead(c, d, s, p, str: false));
        Add(table, "probe_read_user", (c, d, s, p, _, _) => ProbeRead(c, d, s, p, str: false));
        Add(table, "probe_read_str", (c, d, s, p, _, _) => ProbeRead(c, d, s, p, str: true));
        Add(table, "probe_read_kernel_str", (c, d, s, p, _, _) => ProbeRead(c, d, s, p, str: true));
        Add(table, "probe_read_user_str", (c, d, s, p, _, _) => ProbeRead(c, d, s, p, str: true));
        Add(table, "xdp_adjust_head", static (c, _, delta, _, _, _) => (ulong)Packet(c, "xdp_adjust_head").AdjustHead(c, (int)delta));
        Add(table, "xdp_adjust_tail", static (c, _, delta, _, _, _) => (ulong)Packet(c, "xdp_adjust_tail").AdjustTail(c, (int)delta));
        Add(table, "xdp_adjust_meta", static (c, _, delta, _, _, _) => (ulong)Packet(c, "xdp_adjust_meta").AdjustMeta(c, (int)delta));
        Add(table, "skb_load_bytes", SkbLoadBytes);
        return table;
    }

    private static void Add(HelperTable table, string name, HelperFunction function) =>
        table.Register(HelperNames.IdOf(name), name, function);

    private static ulong MonotonicNs() => (ulong)Stopwatch.GetElapsedTime(BootTimestamp).Ticks * 100;

    private static ulong NextRandom()
    {
        // xorshift64*, seeded per thread; get_prandom_u32 promises no more.
        ulong x = _prandomState;
        if (x == 0) x = (ulong)Stopwatch.GetTimestamp() | 1;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        _prandomState = x;
        return (uint)((x * 0x2545F4914F6CDD1DUL) >> 32);
    }

    private static PacketContext Packet(RunContext c, string helper) =>
        c.HostState as PacketContext
        ?? throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, c.HelperPc, $"bpf_{helper} needs a packet context"));

    private static ulong GetCurrentComm(RunContext c, ulong buf, ulong size, ulong _3, ulong _4, ulong _5)
    {
        byte* dst = c.CheckHelperAccess(buf, size, write: true, "get_current_comm buffer");
        var span = new Span<byte>(dst, (int)size);
        span.Clear();
        if (span.Length == 0) return unchecked((ulong)-Errno.EINVAL);
        int n = Encoding.UTF8.GetBytes(c.CurrentComm.AsSpan(0, Math.Min(c.CurrentComm.Length, 15)), span[..Math.Min(span.Length - 1, 15)]);
        span[n] = 0;
        return 0;
    }

    private static ulong Strncmp(RunContext c, ulong s1, ulong s1Size, ulong s2, ulong _4, ulong _5)
    {
        byte* a = c.CheckHelperAccess(s1, s1Size, write: false, "strncmp s1");
        var b = ReadCString(c, s2, 4096, "strncmp s2");
        for (ulong i = 0; i < s1Size; i++)
        {
            byte x = a[i], y = i < (ulong)b.Length ? b[(int)i] : (byte)0;
            if (x != y) return (ulong)(long)(x < y ? -1 : 1);
            if (x == 0) return 0;
        }
        return 0;
    }

    /// <summary>One's-complement partial sum of (~from words, to words, seed), folded to 32 bits as csum_partial does.</summary>
    private static ulong CsumDiff(RunContext c, ulong from, ulong fromSize, ulong to, ulong toSize, ulong seed)
    {
        if (fromSize % 4 != 0 || toSize % 4 != 0 || fromSize > 512 || toSize > 512)
            return unchecked((ulong)-Errno.EINVAL);
        byte* f = c.CheckHelperAccess(from, fromSize, write: false, "csum_diff from");
        byte* t = c.CheckHelperAccess(to, toSize, write: false, "csum_diff to");
        ulong sum = (uint)seed;
        for (ulong i = 0; i < fromSize; i += 4) sum += ~*(uint*)(f + i);
        for (ulong i = 0; i < toSize; i += 4) sum += *(uint*)(t + i);
        while (sum >> 32 != 0) sum = (sum & 0xFFFFFFFF) + (sum >> 32);
        return sum;
    }

    private static ulong ProbeRead(RunContext c, ulong dst, ulong size, ulong src, bool str)
    {
        byte* d = c.CheckHelperAccess(dst, size, write: true, "probe_read destination");
        var target = new Span<byte>(d, (int)size);
        foreach (var region in c.ProbeRegions)
        {
            if (!str && region.Contains(src, (int)size))
            {
                new ReadOnlySpan<byte>((void*)src, (int)size).CopyTo(target);
                return 0;
            }
            if (str && size > 0 && region.Contains(src, 1))
            {
                int available = (int)Math.Min(region.End - src, size - 1);
                var source = new ReadOnlySpan<byte>((void*)src, available);
                int len = source.IndexOf((byte)0);
                if (len < 0) len = available;
                source[..len].CopyTo(target);
                target[len] = 0;
                return (ulong)(len + 1);
            }
        }
        target.Clear();
        return unchecked((ulong)-Errno.EFAULT);
    }

    private static ulong SkbLoadBytes(RunContext c, ulong _1, ulong offset, ulong to, ulong len, ulong _5)
    {
        var packet = Packet(c, "skb_load_bytes");
        byte* dst = c.CheckHelperAccess(to, len, write: true, "skb_load_bytes destination");
        var data = packet.Packet;
        if (offset > int.MaxValue || len > int.MaxValue || (long)offset + (long)len > data.Length)
        {
            new Span<byte>(dst, (int)Math.Min(len, int.MaxValue)).Clear();
            return unchecked((ulong)-Errno.EFAULT);
        }
        data.Slice((int)offset, (int)len).CopyTo(new Span<byte>(dst, (int)len));
        return 0;
    }

    private static ulong TracePrintk(RunContext c, ulong fmt, ulong fmtSize, ulong a1, ulong a2, ulong a3)
    {
        byte* f = c.CheckHelperAccess(fmt, fmtSize, write: false, "trace_printk format");
        var text = Format(c, new ReadOnlySpan<byte>(f, (int)fmtSize), [a1, a2, a3], "trace_printk");
        c.TraceSink?.Invoke(text.TrimEnd('\n'));
        return (ulong)Encoding.UTF8.GetByteCount(text);
    }

    private static ulong Snprintf(RunContext c, ulong str, ulong strSize, ulong fmt, ulong data, ulong dataLen)
    {
        if (dataLen % 8 != 0 || dataLen > 8 * 12) return unchecked((ulong)-Errno.EINVAL);
        var format = ReadCString(c, fmt, 4096, "snprintf format");
        byte* args = c.CheckHelperAccess(data, dataLen, write: false, "snprintf data");
        var values = new ulong[dataLen / 8];
        for (int i = 0; i < values.Length; i++) values[i] = ((ulong*)args)[i];
        string text = Format(c, format, values, "snprintf");
        byte[] bytes = Encoding.UTF8.GetBytes(text);
        if (strSize > 0)
        {
            byte* dst = c.CheckHelperAccess(str, strSize, write: true, "snprintf buffer");
            int n = (int)Math.Min((ulong)bytes.Length, strSize - 1);
            bytes.AsSpan(0, n).CopyTo(new Span<byte>(dst, n));
            dst[n] = 0;
        }
        return (ulong)bytes.Length + 1;
    }

    private static byte[] ReadCString(RunContext c, ulong address, int max, string what)
    {
        var bytes = new List<byte>();
        for (int i = 0; i < max; i++)
        {
            byte b = *c.CheckHelperAccess(address + (ulong)i, 1, write: false, what);
            if (b == 0) return [.. bytes];
            bytes.Add(b);
        }
        throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, c.HelperPc, $"{what}: string is not NUL-terminated within {max} bytes"));
    }

    /// <summary>
    /// The kernel's bpf printf subset: %d %i %u %x %X %c %p %s %% with l/ll modifiers; %s reads a string from
    /// granted memory. Unknown conversions make the helper fail like the kernel's -EINVAL.
    /// </summary>
    private static string Format(RunContext c, ReadOnlySpan<byte> format, ulong[] args, string helper)
    {
        int nul = format.IndexOf((byte)0);
        if (nul >= 0) format = format[..nul];
        var sb = new StringBuilder();
        int next = 0;
        for (int i = 0; i < format.Length; i++)
        {
            char ch = (char)format[i];
            if (ch != '%') { sb.Append(ch); continue; }
            if (++i >= format.Length) break;
            if (format[i] == '%') { sb.Append('%'); continue; }
            bool is64 = false;
            while (i < format.Length && format[i] == 'l') { is64 = true; i++; }
            if (i >= format.Length) break;
            if (next >= args.Length)
                throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, c.HelperPc, $"bpf_{helper}: more conversions than arguments"));
            ulong v = args[next++];
            switch ((char)format[i])
            {
                case 'd' or 'i': sb.Append(is64 ? ((long)v).ToString(CultureInfo.InvariantCulture) : ((int)v).ToString(CultureInfo.InvariantCulture)); break;
                case 'u': sb.Append(is64 ? v.ToString(CultureInfo.InvariantCulture) : ((uint)v).ToString(CultureInfo.InvariantCulture)); break;
                case 'x': sb.Append(is64 ? v.ToString("x", CultureInfo.InvariantCulture) : ((uint)v).ToString("x", CultureInfo.InvariantCulture)); break;
                case 'X': sb.Append(is64 ? v.ToString("X", CultureInfo.InvariantCulture) : ((uint)v).ToString("X", CultureInfo.InvariantCulture)); break;
                case 'c': sb.Append((char)(byte)v); break;
                case 'p': sb.Append("0x").Append(v.ToString("x", CultureInfo.InvariantCulture)); break;
                case 's': sb.Append(Encoding.UTF8.GetString(ReadCString(c, v, 4096, $"bpf_{helper} %s argument"))); break;
                default:
                    throw new BpfFaultException(new BpfFault(BpfFaultKind.HelperFailed, c.HelperPc, $"bpf_{helper}: unsupported conversion '%{(char)format[i]}'"));
            }
        }
        return sb.ToString();
    }
}
