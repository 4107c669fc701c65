using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text;
using BpfSharp.Isa;
using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>Parameters of BPF_MAP_CREATE.</summary>
public sealed record MapCreateOptions
{
    /// <summary>Map type.</summary>
    public required BpfMapType Type { get; init; }
    /// <summary>Key size in bytes (0 for queue, stack, bloom filter, ring buffer).</summary>
    public required uint KeySize { get; init; }
    /// <summary>Value size in bytes (0 for ring buffers).</summary>
    public required uint ValueSize { get; init; }
    /// <summary>Capacity (for ring buffers: the data size in bytes, a power of two multiple of the page size).</summary>
    public required uint MaxEntries { get; init; }
    /// <summary>Creation flags.</summary>
    public MapCreateFlags Flags { get; init; }
    /// <summary>Name (at most 15 ASCII letters, digits, '_' or '.'); truncated if longer.</summary>
    public string? Name { get; init; }
    /// <summary>For map-in-map types: a map of the kind the slots will hold.</summary>
    public BpfMapHandle? InnerMap { get; init; }
    /// <summary>map_extra (bloom filter: number of hash functions in the low 4 bits).</summary>
    public ulong MapExtra { get; init; }
    /// <summary>BTF describing key and value, with their type ids (optional).</summary>
    public BtfHandle? Btf { get; init; }
    /// <summary>BTF type id of the key.</summary>
    public uint BtfKeyTypeId { get; init; }
    /// <summary>BTF type id of the value.</summary>
    public uint BtfValueTypeId { get; init; }
}

/// <summary>Parameters of BPF_PROG_LOAD other than the instructions.</summary>
public sealed record ProgramLoadOptions
{
    /// <summary>Program type.</summary>
    public required BpfProgramType Type { get; init; }
    /// <summary>License string; GPL-only helpers need a GPL-compatible license.</summary>
    public string License { get; init; } = "GPL";
    /// <summary>Name (at most 15 characters; truncated).</summary>
    public string? Name { get; init; }
    /// <summary>expected_attach_type (needed by tp_btf, cgroup programs...). Null picks the usual default for the type.</summary>
    public BpfAttachType? ExpectedAttachType { get; init; }
    /// <summary>attach_btf_id for BTF-typed programs (tp_btf: the id of <c>btf_trace_NAME</c> in vmlinux BTF).</summary>
    public uint AttachBtfId { get; init; }
    /// <summary>Verifier log level: 0 none (a log is still fetched if loading fails), 1 basic, 2 verbose, 4 stats.</summary>
    public uint LogLevel { get; init; }
    /// <summary>Initial log buffer size; doubled (up to 256 MiB) when the kernel says it is too small.</summary>
    public int LogSize { get; init; } = 1 << 20;
    /// <summary>prog_flags (BPF_F_STRICT_ALIGNMENT=1, BPF_F_ANY_ALIGNMENT=2, BPF_F_TEST_RND_HI32=4, BPF_F_SLEEPABLE=16, BPF_F_XDP_HAS_FRAGS=32...).</summary>
    public uint Flags { get; init; }
    /// <summary>BTF of the program (for func_info / line_info; optional).</summary>
    public BtfHandle? Btf { get; init; }
    /// <summary>Device to offload to / bind to (0: none).</summary>
    public uint Ifindex { get; init; }
    /// <summary>
    /// Raw <c>bpf_func_info</c> records (8 bytes each: insn_off, type_id) for <see cref="Btf"/>; empty for none.
    /// </summary>
    public ReadOnlyMemory<byte> FuncInfo { get; init; }
    /// <summary>Raw <c>bpf_line_info</c> records (16 bytes each: insn_off, file_name_off, line_off, line_col); empty for none.</summary>
    public ReadOnlyMemory<byte> LineInfo { get; init; }
    /// <summary>The <c>kern_version</c> field (only old kprobe programs check it; 0 otherwise).</summary>
    public uint KernelVersion { get; init; }
}

/// <summary>Input of BPF_PROG_TEST_RUN.</summary>
public sealed record TestRunOptions
{
    /// <summary>Packet (or other) data in.</summary>
    public ReadOnlyMemory<byte> DataIn { get; init; }
    /// <summary>Bytes reserved for data out; null: <c>DataIn.Length + 4096</c> (room for XDP tail growth). 0: none.</summary>
    public int? DataOutSize { get; init; }
    /// <summary>Context in (e.g. a <c>struct __sk_buff</c> or <c>struct xdp_md</c>, or raw tracepoint args).</summary>
    public ReadOnlyMemory<byte> ContextIn { get; init; }
    /// <summary>Bytes reserved for context out (0: none).</summary>
    public int ContextOutSize { get; init; }
    /// <summary>Times to run (the kernel reports the mean duration); 0 and 1 both run once. Must stay 0 for raw tracepoint and tracing programs.</summary>
    public uint Repeat { get; init; }
    /// <summary>Flags (BPF_F_TEST_RUN_ON_CPU=1, BPF_F_TEST_XDP_LIVE_FRAMES=2, BPF_F_TEST_SKB_CHECKSUM_COMPLETE=4).</summary>
    public uint Flags { get; init; }
    /// <summary>CPU to run on with BPF_F_TEST_RUN_ON_CPU.</summary>
    public uint Cpu { get; init; }
}

/// <summary>Output of BPF_PROG_TEST_RUN.</summary>
/// <param name="ReturnValue">The program's r0 (32 bits, as the kernel reports it).</param>
/// <param name="DurationNs">Mean wall time per run in nanoseconds, as measured by the kernel.</param>
/// <param name="DataOut">The (possibly modified) data after the run.</param>
/// <param name="ContextOut">The context after the run, if requested.</param>
public sealed record TestRunResult(uint ReturnValue, uint DurationNs, byte[] DataOut, byte[] ContextOut);

/// <summary>
/// Thin typed wrappers over the bpf(2) system call (no libbpf). Each method builds the command's part of
/// <c>union bpf_attr</c>, makes the call and turns a failure into a <see cref="BpfException"/> naming the
/// command and errno. "Not found" outcomes that callers branch on (ENOENT) are returned as <c>false</c>.
/// </summary>
public static unsafe class BpfSyscall
{
    private static readonly long BpfNr = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 321,
        Architecture.Arm64 => 280,
        Architecture.X86 => 357,
        _ => -1,
    };

    internal static readonly long PerfEventOpenNr = RuntimeInformation.ProcessArchitecture switch
    {
        Architecture.X64 => 298,
        Architecture.Arm64 => 241,
        Architecture.X86 => 336,
        _ => -1,
    };

    private static string? _unavailableReason;
    private static bool _probed;

    /// <summary>
    /// Whether bpf() can be used by this process: Linux, a known architecture, the syscall present and permitted.
    /// <paramref name="reason"/> explains a false answer (suitable for a test skip message).
    /// </summary>
    public static bool IsAvailable(out string reason)
    {
        if (!_probed)
        {
            _unavailableReason = Probe();
            _probed = true;
        }
        reason = _unavailableReason ?? "";
        return _unavailableReason is null;

        static string? Probe()
        {
            if (!OperatingSystem.IsLinux())
                return "not Linux";
            if (BpfNr < 0)
                return $"bpf() syscall number unknown for {RuntimeInformation.ProcessArchitecture}";
            // A tiny array map: exercises the syscall and the privilege check.
            var attr = new MapCreateAttr { MapType = (uint)BpfMapType.Array, KeySize = 4, ValueSize = 4, MaxEntries = 1 };
            int r = Invoke(BpfCommand.MapCreate, ref attr, out int errno);
            if (r >= 0)
            {
                LibC.Close(r);
                return null;
            }
            return errno switch
            {
                Errnos.ENOSYS => "the kernel has no bpf() system call (CONFIG_BPF_SYSCALL off)",
                Errnos.EPERM => $"bpf() not permitted (euid {LibC.GetEuid()}; needs root or CAP_BPF)",
                _ => $"bpf(BPF_MAP_CREATE) probe failed: {Errnos.Name(errno)}",
            };
        }
    }

    /// <summary>Throws <see cref="BpfNotSupportedException"/> when bpf() cannot be used here.</summary>
    public static void EnsureAvailable()
    {
        if (!IsAvailable(out string reason))
            throw new BpfNotSupportedException("bpf() system call", reason);
    }

    /// <summary>Makes a bpf() call; returns the result (≥ 0) or -1 with <paramref name="errno"/> set.</summary>
    internal static int Invoke<T>(BpfCommand cmd, ref T attr, out int errno) where T : unmanaged
    {
        long r;
        fixed (T* p = &attr)
            r = LibC.Syscall3(BpfNr, (long)cmd, (long)p, sizeof(T));
        errno = r < 0 ? Marshal.GetLastPInvokeError() : 0;
        return (int)r;
    }

    /// <summary>Makes a bpf() call and throws on failure.</summary>
    internal static int InvokeOrThrow<T>(BpfCommand cmd, ref T attr, string? detail = null) where T : unmanaged
    {
        int r = Invoke(cmd, ref attr, out int errno);
        if (r < 0)
            throw new BpfException(CommandName(cmd), errno, detail);
        return r;
    }

    /// <summary>The uapi name of a command, e.g. <c>BPF_MAP_CREATE</c>.</summary>
    public static string CommandName(BpfCommand cmd) => cmd switch
    {
        BpfCommand.MapCreate => "BPF_MAP_CREATE",
        BpfCommand.MapLookupElem => "BPF_MAP_LOOKUP_ELEM",
        BpfCommand.MapUpdateElem => "BPF_MAP_UPDATE_ELEM",
        BpfCommand.MapDeleteElem => "BPF_MAP_DELETE_ELEM",
        BpfCommand.MapGetNextKey => "BPF_MAP_GET_NEXT_KEY",
        BpfCommand.ProgLoad => "BPF_PROG_LOAD",
        BpfCommand.ObjPin => "BPF_OBJ_PIN",
        BpfCommand.ObjGet => "BPF_OBJ_GET",
        BpfCommand.ProgTestRun => "BPF_PROG_TEST_RUN",
        BpfCommand.ObjGetInfoByFd => "BPF_OBJ_GET_INFO_BY_FD",
        BpfCommand.RawTracepointOpen => "BPF_RAW_TRACEPOINT_OPEN",
        BpfCommand.BtfLoad => "BPF_BTF_LOAD",
        BpfCommand.MapLookupAndDeleteElem => "BPF_MAP_LOOKUP_AND_DELETE_ELEM",
        BpfCommand.MapFreeze => "BPF_MAP_FREEZE",
        BpfCommand.MapLookupBatch => "BPF_MAP_LOOKUP_BATCH",
        BpfCommand.MapLookupAndDeleteBatch => "BPF_MAP_LOOKUP_AND_DELETE_BATCH",
        BpfCommand.MapUpdateBatch => "BPF_MAP_UPDATE_BATCH",
        BpfCommand.MapDeleteBatch => "BPF_MAP_DELETE_BATCH",
        BpfCommand.LinkCreate => "BPF_LINK_CREATE",
        BpfCommand.LinkDetach => "BPF_LINK_DETACH",
        BpfCommand.EnableStats => "BPF_ENABLE_STATS",
        _ => "BPF_" + cmd.ToString().ToUpperInvariant(),
    };

    private static void CopyName(byte* dest, string? name)
    {
        if (string.IsNullOrEmpty(name))
            return;
        int n = 0;
        foreach (char c in name)
        {
            if (n == 15)
                break;
            // The kernel accepts only [A-Za-z0-9_.] in object names; replace anything else.
            dest[n++] = char.IsAsciiLetterOrDigit(c) || c is '_' or '.' ? (byte)c : (byte)'_';
        }
    }

    private static string ReadName(byte* src, int max)
    {
        int n = 0;
        while (n < max && src[n] != 0)
            n++;
        return Encoding.ASCII.GetString(src, n);
    }

    // ---------------------------------------------------------------- maps

    /// <summary>BPF_MAP_CREATE.</summary>
    public static BpfMapHandle MapCreate(MapCreateOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var attr = new MapCreateAttr
        {
            MapType = (uint)options.Type,
            KeySize = options.KeySize,
            ValueSize = options.ValueSize,
            MaxEntries = options.MaxEntries,
            MapFlags = (uint)options.Flags,
            MapExtra = options.MapExtra,
            BtfKeyTypeId = options.BtfKeyTypeId,
            BtfValueTypeId = options.BtfValueTypeId,
        };
        CopyName(attr.MapName, options.Name);
        FileDescriptorHandle.Lease inner = default, btf = default;
        bool hasInner = options.InnerMap is not null, hasBtf = options.Btf is not null;
        try
        {
            if (hasInner)
            {
                inner = options.InnerMap!.Borrow();
                attr.InnerMapFd = (uint)inner.Fd;
            }
            if (hasBtf)
            {
                btf = options.Btf!.Borrow();
                attr.BtfFd = (uint)btf.Fd;
            }
            int fd = Invoke(BpfCommand.MapCreate, ref attr, out int errno);
            if (fd < 0)
                throw MapCreateError(options, errno);
            return new BpfMapHandle(fd);
        }
        finally
        {
            if (hasInner) inner.Dispose();
            if (hasBtf) btf.Dispose();
        }
    }

    private static Exception MapCreateError(MapCreateOptions o, int errno)
    {
        string what = $"{o.Type} map (key {o.KeySize} B, value {o.ValueSize} B, max_entries {o.MaxEntries}, flags {o.Flags})";
        if (errno == Errnos.EINVAL && !Enum.IsDefined(o.Type))
            return new BpfNotSupportedException($"map type {(int)o.Type}", "unknown map type");
        return new BpfException("BPF_MAP_CREATE", errno, what);
    }

    /// <summary>BPF_MAP_LOOKUP_ELEM: copies the value into <paramref name="value"/>; false if the key is absent.</summary>
    public static bool MapLookup(BpfMapHandle map, ReadOnlySpan<byte> key, Span<byte> value, ulong flags = 0)
    {
        using var lease = map.Borrow();
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            var attr = new MapElemAttr { MapFd = (uint)lease.Fd, Key = (ulong)k, ValueOrNextKey = (ulong)v, Flags = flags };
            if (Invoke(BpfCommand.MapLookupElem, ref attr, out int errno) == 0)
                return true;
            if (errno == Errnos.ENOENT)
                return false;
            throw new BpfException("BPF_MAP_LOOKUP_ELEM", errno);
        }
    }

    /// <summary>BPF_MAP_UPDATE_ELEM. For queue/stack maps pass an empty key (push).</summary>
    public static void MapUpdate(BpfMapHandle map, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, MapUpdateFlags flags = MapUpdateFlags.Any)
    {
        using var lease = map.Borrow();
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            var attr = new MapElemAttr { MapFd = (uint)lease.Fd, Key = (ulong)k, ValueOrNextKey = (ulong)v, Flags = (ulong)flags };
            InvokeOrThrow(BpfCommand.MapUpdateElem, ref attr, flags == MapUpdateFlags.Any ? null : $"flags {flags}");
        }
    }

    /// <summary>BPF_MAP_DELETE_ELEM; false if the key was absent.</summary>
    public static bool MapDelete(BpfMapHandle map, ReadOnlySpan<byte> key)
    {
        using var lease = map.Borrow();
        fixed (byte* k = key)
        {
            var attr = new MapElemAttr { MapFd = (uint)lease.Fd, Key = (ulong)k };
            if (Invoke(BpfCommand.MapDeleteElem, ref attr, out int errno) == 0)
                return true;
            if (errno == Errnos.ENOENT)
                return false;
            throw new BpfException("BPF_MAP_DELETE_ELEM", errno);
        }
    }

    /// <summary>
    /// BPF_MAP_GET_NEXT_KEY: the key after <paramref name="key"/>, or the first key when <paramref name="key"/> is
    /// empty (also when it is absent from a hash map). False at the end of the map.
    /// </summary>
    public static bool MapGetNextKey(BpfMapHandle map, ReadOnlySpan<byte> key, Span<byte> nextKey)
    {
        using var lease = map.Borrow();
        fixed (byte* k = key)
        fixed (byte* n = nextKey)
        {
            var attr = new MapElemAttr { MapFd = (uint)lease.Fd, Key = key.IsEmpty ? 0 : (ulong)k, ValueOrNextKey = (ulong)n };
            if (Invoke(BpfCommand.MapGetNextKey, ref attr, out int errno) == 0)
                return true;
            if (errno == Errnos.ENOENT)
                return false;
            throw new BpfException("BPF_MAP_GET_NEXT_KEY", errno);
        }
    }

    /// <summary>BPF_MAP_LOOKUP_AND_DELETE_ELEM (pop for queue/stack with an empty key); false if absent/empty.</summary>
    public static bool MapLookupAndDelete(BpfMapHandle map, ReadOnlySpan<byte> key, Span<byte> value, ulong flags = 0)
    {
        using var lease = map.Borrow();
        fixed (byte* k = key)
        fixed (byte* v = value)
        {
            var attr = new MapElemAttr { MapFd = (uint)lease.Fd, Key = key.IsEmpty ? 0 : (ulong)k, ValueOrNextKey = (ulong)v, Flags = flags };
            if (Invoke(BpfCommand.MapLookupAndDeleteElem, ref attr, out int errno) == 0)
                return true;
            if (errno == Errnos.ENOENT)
                return false;
            throw new BpfException("BPF_MAP_LOOKUP_AND_DELETE_ELEM", errno);
        }
    }

    /// <summary>
    /// BPF_MAP_LOOKUP_BATCH (or LOOKUP_AND_DELETE_BATCH): fetches up to <paramref name="count"/> elements into
    /// <paramref name="keys"/>/<paramref name="values"/> (packed, count × size). <paramref name="inBatch"/> is the
    /// opaque position from the previous call's <paramref name="outBatch"/> (empty to start); both need at least
    /// max(key size, 4) bytes. Returns the number of elements copied; <paramref name="done"/> is true when the
    /// map has been fully walked.
    /// </summary>
    public static int MapLookupBatch(BpfMapHandle map, ReadOnlySpan<byte> inBatch, Span<byte> outBatch,
        Span<byte> keys, Span<byte> values, int count, out bool done, bool andDelete = false, ulong elemFlags = 0)
    {
        var cmd = andDelete ? BpfCommand.MapLookupAndDeleteBatch : BpfCommand.MapLookupBatch;
        using var lease = map.Borrow();
        fixed (byte* ib = inBatch)
        fixed (byte* ob = outBatch)
        fixed (byte* k = keys)
        fixed (byte* v = values)
        {
            var attr = new MapBatchAttr
            {
                InBatch = inBatch.IsEmpty ? 0 : (ulong)ib, OutBatch = (ulong)ob, Keys = (ulong)k, Values = (ulong)v,
                Count = (uint)count, MapFd = (uint)lease.Fd, ElemFlags = elemFlags,
            };
            int r = Invoke(cmd, ref attr, out int errno);
            if (r == 0)
            {
                done = false;
                return (int)attr.Count;
            }
            if (errno == Errnos.ENOENT)
            {
                done = true;
                return (int)attr.Count;
            }
            throw new BpfException(CommandName(cmd), errno);
        }
    }

    /// <summary>BPF_MAP_UPDATE_BATCH of <paramref name="count"/> packed keys and values; returns how many were updated.</summary>
    public static int MapUpdateBatch(BpfMapHandle map, ReadOnlySpan<byte> keys, ReadOnlySpan<byte> values, int count, MapUpdateFlags elemFlags = MapUpdateFlags.Any)
    {
        using var lease = map.Borrow();
        fixed (byte* k = keys)
        fixed (byte* v = values)
        {
            var attr = new MapBatchAttr { Keys = (ulong)k, Values = (ulong)v, Count = (uint)count, MapFd = (uint)lease.Fd, ElemFlags = (ulong)elemFlags };
            int r = Invoke(BpfCommand.MapUpdateBatch, ref attr, out int errno);
            if (r < 0)
                throw new BpfException("BPF_MAP_UPDATE_BATCH", errno, $"{attr.Count} of {count} elements updated");
            return (int)attr.Count;
        }
    }

    /// <summary>BPF_MAP_DELETE_BATCH of <paramref name="count"/> packed keys; returns how many were deleted (stops at the first absent key).</summary>
    public static int MapDeleteBatch(BpfMapHandle map, ReadOnlySpan<byte> keys, int count)
    {
        using var lease = map.Borrow();
        fixed (byte* k = keys)
        {
            var attr = new MapBatchAttr { Keys = (ulong)k, Count = (uint)count, MapFd = (uint)lease.Fd };
            int r = Invoke(BpfCommand.MapDeleteBatch, ref attr, out int errno);
            if (r < 0 && errno != Errnos.ENOENT)
                throw new BpfException("BPF_MAP_DELETE_BATCH", errno, $"{attr.Count} of {count} elements deleted");
            return (int)attr.Count;
        }
    }

    /// <summary>BPF_MAP_FREEZE: the map becomes read-only for user space (programs can still write unless RDONLY_PROG).</summary>
    public static void MapFreeze(BpfMapHandle map)
    {
        using var lease = map.Borrow();
        var attr = new MapElemAttr { MapFd = (uint)lease.Fd };
        InvokeOrThrow(BpfCommand.MapFreeze, ref attr);
    }

    // ---------------------------------------------------------------- programs

    /// <summary>Default expected_attach_type per program type (what libbpf uses for the plain section names).</summary>
    internal static BpfAttachType DefaultAttachType(BpfProgramType type) => type switch
    {
        BpfProgramType.Xdp => BpfAttachType.Xdp,
        BpfProgramType.Tracing => BpfAttachType.TraceRawTp,
        _ => BpfAttachType.None,
    };

    /// <summary>
    /// BPF_PROG_LOAD. On rejection throws <see cref="BpfVerifierException"/> with the kernel's verifier log
    /// (fetched by a second, logged attempt if <see cref="ProgramLoadOptions.LogLevel"/> was 0).
    /// <paramref name="log"/> receives the log of a successful load when a log level was requested, else "".
    /// </summary>
    public static BpfProgramHandle ProgLoad(ProgramLoadOptions options, ReadOnlySpan<RawInstruction> instructions, out string log)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (instructions.IsEmpty)
            throw new ArgumentException("A program needs at least one instruction.", nameof(instructions));
        int fd = TryProgLoad(options, instructions, options.LogLevel, out log, out int errno);
        if (fd >= 0)
            return new BpfProgramHandle(fd);
        if (options.LogLevel == 0 && errno != Errnos.EPERM)
        {
            // Retry with a log so the exception can say why; the verdict does not depend on the log level.
            int fd2 = TryProgLoad(options, instructions, 1, out log, out int errno2);
            if (fd2 >= 0)
            {
                LibC.Close(fd2);
                throw new BpfException("BPF_PROG_LOAD", errno, "failed without a log but succeeded with one (kernel flake?)");
            }
            errno = errno2;
        }
        if (errno == Errnos.EINVAL && log.Length == 0 && !Enum.IsDefined(options.Type))
            throw new BpfNotSupportedException($"program type {(int)options.Type}", "unknown program type");
        throw new BpfVerifierException(errno, log, options.Type);
    }

    /// <summary>Size of one <c>bpf_func_info</c> record.</summary>
    public const int FuncInfoRecordSize = 8;

    /// <summary>Size of one <c>bpf_line_info</c> record.</summary>
    public const int LineInfoRecordSize = 16;

    /// <summary>One BPF_PROG_LOAD attempt; returns the fd or -1 with errno. Grows the log buffer on ENOSPC.</summary>
    internal static int TryProgLoad(ProgramLoadOptions options, ReadOnlySpan<RawInstruction> instructions, uint logLevel, out string log, out int errno)
    {
        byte[] license = Encoding.ASCII.GetBytes(options.License + "\0");
        int logSize = logLevel == 0 ? 0 : Math.Max(options.LogSize, 4096);
        bool hasBtf = options.Btf is not null;
        FileDescriptorHandle.Lease btf = hasBtf ? options.Btf!.Borrow() : default;
        try
        {
            while (true)
            {
                byte[]? logBuf = logSize > 0 ? GC.AllocateUninitializedArray<byte>(logSize) : null;
                if (logBuf is not null)
                    logBuf[0] = 0;
                int fd;
                fixed (RawInstruction* insns = instructions)
                fixed (byte* lic = license)
                fixed (byte* lb = logBuf)
                fixed (byte* fi = options.FuncInfo.Span)
                fixed (byte* li = options.LineInfo.Span)
                {
                    var attr = new ProgLoadAttr
                    {
                        ProgType = (uint)options.Type,
                        InsnCnt = (uint)instructions.Length,
                        Insns = (ulong)insns,
                        License = (ulong)lic,
                        LogLevel = logLevel,
                        LogSize = (uint)logSize,
                        LogBuf = (ulong)lb,
                        ProgFlags = options.Flags,
                        ProgIfindex = options.Ifindex,
                        ExpectedAttachType = (uint)(options.ExpectedAttachType ?? DefaultAttachType(options.Type)),
                        AttachBtfId = options.AttachBtfId,
                        ProgBtfFd = hasBtf ? (uint)btf.Fd : 0,
                        KernVersion = options.KernelVersion,
                    };
                    if (hasBtf && !options.FuncInfo.IsEmpty)
                    {
                        attr.FuncInfoRecSize = FuncInfoRecordSize;
                        attr.FuncInfo = (ulong)fi;
                        attr.FuncInfoCnt = (uint)(options.FuncInfo.Length / FuncInfoRecordSize);
                    }
                    if (hasBtf && !options.LineInfo.IsEmpty)
                    {
                        attr.LineInfoRecSize = LineInfoRecordSize;
                        attr.LineInfo = (ulong)li;
                        attr.LineInfoCnt = (uint)(options.LineInfo.Length / LineInfoRecordSize);
                    }
                    CopyName(attr.ProgName, options.Name);
                    fd = Invoke(BpfCommand.ProgLoad, ref attr, out errno);
                }
                log = logBuf is null ? "" : ReadCString(logBuf);
                if (fd < 0 && errno == Errnos.ENOSPC && logBuf is not null && logSize < (1 << 28))
                {
                    logSize *= 4;
                    continue;
                }
                return fd;
            }
        }
        finally
        {
            if (hasBtf) btf.Dispose();
        }
    }

    private static string ReadCString(byte[] buffer)
    {
        int n = Array.IndexOf(buffer, (byte)0);
        return Encoding.UTF8.GetString(buffer, 0, n < 0 ? buffer.Length : n);
    }

    /// <summary>BPF_PROG_TEST_RUN: runs a loaded program on the given input in the kernel.</summary>
    public static TestRunResult ProgTestRun(BpfProgramHandle program, TestRunOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int outSize = options.DataOutSize ?? (options.DataIn.IsEmpty ? 0 : options.DataIn.Length + 4096);
        byte[] dataOut = outSize > 0 ? new byte[outSize] : [];
        byte[] ctxOut = options.ContextOutSize > 0 ? new byte[options.ContextOutSize] : [];
        using var lease = program.Borrow();
        fixed (byte* di = options.DataIn.Span)
        fixed (byte* dout = dataOut)
        fixed (byte* ci = options.ContextIn.Span)
        fixed (byte* cout = ctxOut)
        {
            var attr = new TestRunAttr
            {
                ProgFd = (uint)lease.Fd,
                DataSizeIn = (uint)options.DataIn.Length,
                DataIn = options.DataIn.IsEmpty ? 0 : (ulong)di,
                DataSizeOut = (uint)dataOut.Length,
                DataOut = dataOut.Length == 0 ? 0 : (ulong)dout,
                CtxSizeIn = (uint)options.ContextIn.Length,
                CtxIn = options.ContextIn.IsEmpty ? 0 : (ulong)ci,
                CtxSizeOut = (uint)ctxOut.Length,
                CtxOut = ctxOut.Length == 0 ? 0 : (ulong)cout,
                Repeat = options.Repeat,
                Flags = options.Flags,
                Cpu = options.Cpu,
            };
            int r = Invoke(BpfCommand.ProgTestRun, ref attr, out int errno);
            if (r < 0)
            {
                string hint = errno switch
                {
                    Errnos.ENOTSUPP or Errnos.EOPNOTSUPP => "this program type has no test-run support in this kernel",
                    Errnos.ENOSPC => $"output bigger than the {dataOut.Length}-byte data-out buffer",
                    Errnos.EINVAL => $"input rejected (data {options.DataIn.Length} B, ctx {options.ContextIn.Length} B, repeat {options.Repeat}; " +
                        "XDP/skb programs need ≥ 14 bytes of packet; raw_tracepoint/tracing runs take only a context: no data, repeat or context out)",
                    _ => "",
                };
                throw new BpfException("BPF_PROG_TEST_RUN", errno, hint);
            }
            if (attr.DataSizeOut < dataOut.Length)
                Array.Resize(ref dataOut, (int)attr.DataSizeOut);
            if (attr.CtxSizeOut < ctxOut.Length)
                Array.Resize(ref ctxOut, (int)attr.CtxSizeOut);
            return new TestRunResult(attr.Retval, attr.Duration, dataOut, ctxOut);
        }
    }

    // ---------------------------------------------------------------- BTF, pinning, info, stats

    /// <summary>BPF_BTF_LOAD of a raw BTF blob (header + types + strings). On failure the BTF log is in the exception.</summary>
    public static BtfHandle BtfLoad(ReadOnlySpan<byte> btf)
    {
        byte[] logBuf = new byte[1 << 16];
        fixed (byte* b = btf)
        fixed (byte* l = logBuf)
        {
            var attr = new BtfLoadAttr { Btf = (ulong)b, BtfSize = (uint)btf.Length };
            int fd = Invoke(BpfCommand.BtfLoad, ref attr, out int errno);
            if (fd >= 0)
                return new BtfHandle(fd);
            attr = new BtfLoadAttr { Btf = (ulong)b, BtfSize = (uint)btf.Length, BtfLogBuf = (ulong)l, BtfLogSize = (uint)logBuf.Length, BtfLogLevel = 1 };
            fd = Invoke(BpfCommand.BtfLoad, ref attr, out int errno2);
            if (fd >= 0)
                return new BtfHandle(fd);
            string log = ReadCString(logBuf).Trim();
            int lastLine = log.LastIndexOf('\n');
            throw new BpfException("BPF_BTF_LOAD", errno2, lastLine >= 0 ? log[(lastLine + 1)..] + "\n" + log : log);
        }
    }

    /// <summary>BPF_OBJ_PIN: pins a map, program, link or BTF object at a path inside a bpffs mount.</summary>
    public static void ObjPin(FileDescriptorHandle obj, string path)
    {
        ArgumentNullException.ThrowIfNull(obj);
        byte[] p = Encoding.UTF8.GetBytes(path + "\0");
        using var lease = obj.Borrow();
        fixed (byte* pp = p)
        {
            var attr = new ObjAttr { Pathname = (ulong)pp, BpfFd = (uint)lease.Fd };
            InvokeOrThrow(BpfCommand.ObjPin, ref attr, $"path {path} (must be inside a bpffs mount, e.g. /sys/fs/bpf)");
        }
    }

    /// <summary>BPF_OBJ_GET: opens a pinned object; returns the raw fd for the caller to wrap.</summary>
    public static int ObjGet(string path, uint fileFlags = 0)
    {
        byte[] p = Encoding.UTF8.GetBytes(path + "\0");
        fixed (byte* pp = p)
        {
            var attr = new ObjAttr { Pathname = (ulong)pp, FileFlags = fileFlags };
            return InvokeOrThrow(BpfCommand.ObjGet, ref attr, $"path {path}");
        }
    }

    private static void GetInfo<T>(FileDescriptorHandle obj, ref T info) where T : unmanaged
    {
        using var lease = obj.Borrow();
        fixed (T* pi = &info)
        {
            var attr = new InfoAttr { BpfFd = (uint)lease.Fd, InfoLen = (uint)sizeof(T), Info = (ulong)pi };
            InvokeOrThrow(BpfCommand.ObjGetInfoByFd, ref attr);
        }
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD for a program.</summary>
    public static ProgramInfo GetProgramInfo(BpfProgramHandle program)
    {
        var raw = default(BpfProgInfoRaw);
        GetInfo(program, ref raw);
        uint[] mapIds = [];
        if (raw.NrMapIds > 0)
        {
            // Second call with a buffer for the map ids; all other output pointers stay null.
            mapIds = new uint[raw.NrMapIds];
            fixed (uint* m = mapIds)
            {
                var again = new BpfProgInfoRaw { NrMapIds = (uint)mapIds.Length, MapIds = (ulong)m };
                GetInfo(program, ref again);
            }
        }
        string tag = Convert.ToHexStringLower(new ReadOnlySpan<byte>(raw.Tag, 8));
        return new ProgramInfo((BpfProgramType)raw.Type, raw.Id, tag, ReadName(raw.Name, 16), raw.JitedProgLen,
            raw.XlatedProgLen, raw.VerifiedInsns, raw.RunCnt, raw.RunTimeNs, mapIds);
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD for a map.</summary>
    public static MapInfo GetMapInfo(BpfMapHandle map)
    {
        var raw = default(BpfMapInfoRaw);
        GetInfo(map, ref raw);
        return new MapInfo((BpfMapType)raw.Type, raw.Id, raw.KeySize, raw.ValueSize, raw.MaxEntries, (MapCreateFlags)raw.MapFlags, ReadName(raw.Name, 16));
    }

    /// <summary>BPF_OBJ_GET_INFO_BY_FD for a link.</summary>
    public static LinkInfo GetLinkInfo(BpfLinkHandle link)
    {
        var raw = default(BpfLinkInfoRaw);
        GetInfo(link, ref raw);
        var type = (BpfLinkType)raw.Type;
        uint ifindex = type is BpfLinkType.Xdp or BpfLinkType.Tcx ? Unsafe.ReadUnaligned<uint>(raw.Union) : 0;
        return new LinkInfo(type, raw.Id, raw.ProgId, ifindex);
    }

    /// <summary>
    /// BPF_ENABLE_STATS(BPF_STATS_RUN_TIME): while the returned handle is open, the kernel counts run_cnt and
    /// run_time_ns of every program (see <see cref="GetProgramInfo"/>).
    /// </summary>
    public static PerfEventHandle EnableStats()
    {
        var attr = new SingleU32Attr { Value = 0 };
        return new PerfEventHandle(InvokeOrThrow(BpfCommand.EnableStats, ref attr));
    }

    // ---------------------------------------------------------------- links

    /// <summary>
    /// BPF_LINK_CREATE. <paramref name="target"/> is an fd or ifindex depending on the attach type;
    /// <paramref name="extra16"/>/<paramref name="extra24"/> fill the per-type union (tcx relative fd / expected
    /// revision, perf_event cookie, target_btf_id).
    /// </summary>
    public static BpfLinkHandle LinkCreate(BpfProgramHandle program, uint target, BpfAttachType attachType, uint flags = 0, ulong extra16 = 0, ulong extra24 = 0)
    {
        using var lease = program.Borrow();
        var attr = new LinkCreateAttr { ProgFd = (uint)lease.Fd, Target = target, AttachType = (uint)attachType, Flags = flags, U64At16 = extra16, U64At24 = extra24 };
        int fd = Invoke(BpfCommand.LinkCreate, ref attr, out int errno);
        if (fd < 0)
            throw new BpfException("BPF_LINK_CREATE", errno, $"attach type {attachType}, target {target}, flags 0x{flags:x}");
        return new BpfLinkHandle(fd);
    }

    /// <summary>BPF_LINK_DETACH: detaches the link's program now; the fd stays valid (but defunct).</summary>
    public static void LinkDetach(BpfLinkHandle link)
    {
        using var lease = link.Borrow();
        var attr = new SingleU32Attr { Value = (uint)lease.Fd };
        InvokeOrThrow(BpfCommand.LinkDetach, ref attr);
    }

    /// <summary>
    /// BPF_RAW_TRACEPOINT_OPEN: attaches a raw tracepoint program to <paramref name="name"/>, or a tp_btf program
    /// (whose target is already fixed by its attach_btf_id) when <paramref name="name"/> is null.
    /// </summary>
    public static BpfLinkHandle RawTracepointOpen(BpfProgramHandle program, string? name)
    {
        byte[]? n = name is null ? null : Encoding.ASCII.GetBytes(name + "\0");
        using var lease = program.Borrow();
        fixed (byte* pn = n)
        {
            var attr = new RawTracepointAttr { Name = n is null ? 0 : (ulong)pn, ProgFd = (uint)lease.Fd };
            return new BpfLinkHandle(InvokeOrThrow(BpfCommand.RawTracepointOpen, ref attr, name is null ? "tp_btf target" : $"raw tracepoint '{name}'"));
        }
    }
}
