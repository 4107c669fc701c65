using System.Diagnostics;
using BpfSharp.Elf.Btf;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;
using K = BpfSharp.Elf.Btf.CoreRelocationKind;

namespace BpfSharp.Elf.Tests;

/// <summary>
/// CO-RE relocation against the running kernel's BTF and against a target BTF compiled from a C file with a different
/// layout. Programs are compiled with clang-19 at test time; expected values come from bpftool's raw BTF dump (kernel)
/// or are computed by hand from the target C source (layout rules of the BPF target: natural alignment).
/// </summary>
public sealed class CoreRelocatorTests(ITestOutputHelper output)
{
    /// <summary>What the relocated instruction must hold.</summary>
    private enum Form { Imm, Ldx, Lddw, Poison, Failed }

    private sealed record Expect(Form Form, long Value = 0, int LoadSize = 0);

    private const string Prelude = """
        #define SEC(n) __attribute__((section(n), used))
        #define PAI __attribute__((preserve_access_index))
        enum { F_OFFSET = 0, F_SIZE = 1, F_EXISTS = 2, F_SIGNED = 3, F_LSHIFT = 4, F_RSHIFT = 5 };
        enum { T_EXISTS = 0, T_SIZE = 1, T_MATCHES = 2 };
        enum { ID_LOCAL = 0, ID_TARGET = 1 };
        enum { E_EXISTS = 0, E_VALUE = 1 };

        """;

    // Local view of a few kernel types; member indexes (the access strings) follow this declaration order.
    private const string KernelProgram = Prelude + """
        struct task_struct {
            int pid;                          /* 0:0 */
            int tgid;                         /* 0:1 */
            struct task_struct *real_parent;  /* 0:2 */
            char comm[16];                    /* 0:3 */
            int no_such_field_zz;             /* 0:4 */
        } PAI;
        struct sk_buff {
            unsigned long long len;           /* 0:0  wider than the kernel's unsigned int: the load gets narrowed */
            unsigned char pkt_type:3;         /* 0:1  inside two anonymous levels in the kernel */
            unsigned short protocol;          /* 0:2 */
        } PAI;
        struct no_such_struct_zz { int x; } PAI;
        enum bpf_prog_type { BPF_PROG_TYPE_XDP = 100, BPF_PROG_TYPE_NOPE_ZZ = 101 };

        static long (*bpf_probe_read_kernel)(void *dst, unsigned int size, const void *src) = (void *)113;

        SEC("kprobe/core") int core_prog(unsigned long long *o, struct task_struct *t, struct sk_buff *skb)
        {
            char comm[16];
            /* BPF_CORE_READ's pattern: the address t + offsetof(comm) is an ALU64 add whose immediate is relocated */
            bpf_probe_read_kernel(comm, sizeof(comm), __builtin_preserve_access_index(&t->comm));
            o[21] = comm[0];
            o[0] = t->pid;
            o[1] = t->tgid;
            o[2] = (unsigned long)t->real_parent;
            o[3] = skb->len;
            o[4] = __builtin_preserve_field_info(t->comm, F_SIZE);
            o[5] = __builtin_preserve_field_info(t->no_such_field_zz, F_EXISTS);
            o[6] = __builtin_preserve_field_info(t->pid, F_EXISTS);
            o[7] = __builtin_preserve_field_info(skb->pkt_type, F_OFFSET);
            o[8] = __builtin_preserve_field_info(skb->pkt_type, F_SIZE);
            o[9] = __builtin_preserve_field_info(skb->pkt_type, F_LSHIFT);
            o[10] = __builtin_preserve_field_info(skb->pkt_type, F_RSHIFT);
            o[11] = __builtin_preserve_field_info(skb->pkt_type, F_SIGNED);
            o[12] = __builtin_preserve_type_info(*(struct task_struct *)0, T_SIZE);
            o[13] = __builtin_preserve_type_info(*(struct task_struct *)0, T_EXISTS);
            o[14] = __builtin_preserve_type_info(*(struct no_such_struct_zz *)0, T_EXISTS);
            o[15] = __builtin_btf_type_id(*(struct task_struct *)0, ID_TARGET);
            o[16] = __builtin_preserve_enum_value(*(enum bpf_prog_type *)BPF_PROG_TYPE_XDP, E_VALUE);
            o[17] = __builtin_preserve_enum_value(*(enum bpf_prog_type *)BPF_PROG_TYPE_NOPE_ZZ, E_EXISTS);
            o[18] = __builtin_preserve_field_info(t->no_such_field_zz, F_OFFSET);
            o[19] = __builtin_preserve_field_info(skb->protocol, F_OFFSET);
            o[20] = __builtin_btf_type_id(*(struct task_struct *)0, ID_LOCAL);
            return 0;
        }
        char LICENSE[] SEC("license") = "GPL";
        """;

    [Fact]
    public void Kernel_btf_parses_fast_and_agrees_with_bpftool_on_type_count()
    {
        if (!File.Exists(Btf.Btf.KernelBtfPath)) { output.WriteLine($"SKIPPED: {Btf.Btf.KernelBtfPath} is absent (kernel without CONFIG_DEBUG_INFO_BTF)"); return; }
        Btf.Btf.LoadKernel(); // warm up the JIT
        GC.Collect();
        long allocatedBefore = GC.GetTotalAllocatedBytes(true);
        var sw = Stopwatch.StartNew();
        var btf = Btf.Btf.LoadKernel();
        var parse = sw.Elapsed;
        long allocated = GC.GetTotalAllocatedBytes(true) - allocatedBefore;
        for (int i = 0; i < 2; i++) // the machine is shared: report the best of three
        {
            var again = Stopwatch.StartNew();
            Btf.Btf.LoadKernel();
            if (again.Elapsed < parse) parse = again.Elapsed;
        }
        sw.Restart();
        GC.Collect();
        output.WriteLine($"allocated {allocated / 1048576.0:F1} MB while parsing, {GC.GetTotalMemory(true) / 1048576.0:F1} MB live after");
        var task = btf.FindByEssentialName("task_struct");
        var index = sw.Elapsed;
        output.WriteLine($"vmlinux BTF: {btf.Types.Count} types, parse {parse.TotalMilliseconds:F0} ms (best of 3), essential-name index {index.TotalMilliseconds:F0} ms");
        Assert.True(parse < TimeSpan.FromSeconds(5), $"parse took {parse}");
        Assert.Contains(task, t => t.Kind == BtfKind.Struct);

        var bpftool = TestSupport.FindTool("bpftool");
        if (bpftool is null) { output.WriteLine("bpftool not installed: type count not cross-checked"); return; }
        var raw = BpftoolRawBtf.Dump(bpftool, Btf.Btf.KernelBtfPath);
        Assert.Equal(raw.Types.Keys.Max() + 1, btf.Types.Count);
        var rawTask = raw.Named("STRUCT", "task_struct");
        var ours = (BtfComposite)btf.Types[rawTask.Id];
        Assert.Equal("task_struct", ours.Name);
        Assert.Equal(rawTask.Size, ours.Size);
        Assert.Equal(rawTask.Members.Select(m => (m.Name == "(anon)" ? "" : m.Name, m.BitOffset, m.BitfieldSize)),
            ours.Members.Select(m => (m.Name, (long)m.BitOffset, (int)m.BitfieldSize)));
    }

    [Fact]
    public void Truncated_or_corrupt_kernel_btf_fails_with_a_typed_error()
    {
        if (!File.Exists(Btf.Btf.KernelBtfPath)) { output.WriteLine($"SKIPPED: {Btf.Btf.KernelBtfPath} is absent"); return; }
        var bytes = File.ReadAllBytes(Btf.Btf.KernelBtfPath);
        var rng = new Random(7);
        var lengths = new[] { 0, 1, 2, 23, 24, 25, bytes.Length - 1 }.Concat(Enumerable.Range(0, 12).Select(_ => rng.Next(bytes.Length)));
        foreach (var n in lengths)
        {
            var ex = Assert.Throws<BpfObjectException>(() => Btf.Btf.Parse(bytes.AsSpan(0, n)));
            Assert.Contains(".BTF", ex.Message);
        }
        var badMagic = (byte[])bytes.Clone();
        badMagic[0] ^= 0xff;
        Assert.Contains("bad magic", Assert.Throws<BpfObjectException>(() => Btf.Btf.Parse(badMagic)).Message);
        var missing = Path.Combine(Path.GetTempPath(), "no-such-btf-" + Guid.NewGuid());
        Assert.Throws<FileNotFoundException>(() => Btf.Btf.LoadKernel(missing));
    }

    [Fact]
    public void Relocates_against_running_kernel_btf()
    {
        if (!File.Exists(Btf.Btf.KernelBtfPath)) { output.WriteLine($"SKIPPED: {Btf.Btf.KernelBtfPath} is absent"); return; }
        var (clang, bpftool) = (TestSupport.FindTool("clang-19"), TestSupport.FindTool("bpftool"));
        if (clang is null || bpftool is null) { output.WriteLine("SKIPPED: needs clang-19 and bpftool (apt-get install clang-19 linux-tools-common/bpftool)"); return; }

        using var dir = new TempDir();
        var obj = Compile(clang, dir, "kernel_core", KernelProgram);
        var kernel = Btf.Btf.LoadKernel();
        var raw = BpftoolRawBtf.Dump(bpftool, Btf.Btf.KernelBtfPath);
        var local = BpftoolRawBtf.Dump(bpftool, obj.Path);

        var task = raw.Named("STRUCT", "task_struct");
        var skb = raw.Named("STRUCT", "sk_buff");
        long Bits(BpftoolRawBtf.RawType s, string name) => raw.FindMember(s, name)!.Value.BitOffset;
        var pkt = raw.FindMember(skb, "pkt_type")!.Value;
        Assert.Equal(3, pkt.Member.BitfieldSize);
        long pktByteSize = raw.SizeOf(pkt.Member.TypeId); // __u8
        long pktByteOff = pkt.BitOffset / 8 / pktByteSize * pktByteSize;
        var progType = raw.Named("ENUM", "bpf_prog_type");

        var expected = new Dictionary<(K, string, string), Expect>
        {
            [(K.FieldByteOffset, "task_struct", "0:0")] = new(Form.Ldx, Bits(task, "pid") / 8, 4),
            [(K.FieldByteOffset, "task_struct", "0:1")] = new(Form.Ldx, Bits(task, "tgid") / 8, 4),
            [(K.FieldByteOffset, "task_struct", "0:2")] = new(Form.Ldx, Bits(task, "real_parent") / 8, 8),
            // local u64 vs kernel unsigned int: both unsigned, so the load is narrowed to 4 bytes
            [(K.FieldByteOffset, "sk_buff", "0:0")] = new(Form.Ldx, Bits(skb, "len") / 8, (int)raw.SizeOf(raw.FindMember(skb, "len")!.Value.Member.TypeId)),
            [(K.FieldByteSize, "task_struct", "0:3")] = new(Form.Imm, raw.SizeOf(raw.FindMember(task, "comm")!.Value.Member.TypeId)),
            [(K.FieldExists, "task_struct", "0:4")] = new(Form.Imm, 0),
            [(K.FieldExists, "task_struct", "0:0")] = new(Form.Imm, 1),
            [(K.FieldByteOffset, "sk_buff", "0:1")] = new(Form.Imm, pktByteOff),
            [(K.FieldByteSize, "sk_buff", "0:1")] = new(Form.Imm, pktByteSize),
            [(K.FieldLShiftU64, "sk_buff", "0:1")] = new(Form.Imm, 64 - (pkt.BitOffset + 3 - pktByteOff * 8)),
            [(K.FieldRShiftU64, "sk_buff", "0:1")] = new(Form.Imm, 64 - 3),
            [(K.FieldSigned, "sk_buff", "0:1")] = new(Form.Imm, 0),
            [(K.TypeSize, "task_struct", "0")] = new(Form.Imm, task.Size),
            [(K.TypeExists, "task_struct", "0")] = new(Form.Imm, 1),
            [(K.TypeExists, "no_such_struct_zz", "0")] = new(Form.Imm, 0),
            [(K.TypeIdTarget, "task_struct", "0")] = new(Form.Lddw, task.Id),
            [(K.EnumValue, "bpf_prog_type", "0")] = new(Form.Imm, progType.Values.Single(v => v.Name == "BPF_PROG_TYPE_XDP").Value),
            [(K.EnumValueExists, "bpf_prog_type", "1")] = new(Form.Imm, 0),
            [(K.FieldByteOffset, "task_struct", "0:4")] = new(Form.Poison),
            [(K.FieldByteOffset, "sk_buff", "0:2")] = new(Form.Imm, Bits(skb, "protocol") / 8),
            [(K.TypeIdLocal, "task_struct", "0")] = new(Form.Lddw, local.Named("STRUCT", "task_struct").Id),
            [(K.FieldByteOffset, "task_struct", "0:3")] = new(Form.Imm, Bits(task, "comm") / 8),
        };
        CheckProgram(obj, kernel, expected, poisoned: 1);
    }

    // The "object" side: the layout a program was compiled against.
    private const string LocalProgram = Prelude + """
        struct core_demo {
            int a;                 /* 0:0  byte 0 */
            int b;                 /* 0:1  byte 4 */
            char c;                /* 0:2  byte 8 (gone in the target) */
            long long d;           /* 0:3  byte 16 */
            unsigned int bits:3;   /* 0:4  bit 192 */
            unsigned int more:5;   /* 0:5  bit 195 */
            int arr[4];            /* 0:6  byte 28 */
            unsigned int u32f;     /* 0:7  byte 44 */
            int s32f;              /* 0:8  byte 48 */
        } PAI;
        struct core_demo___v2 { int b; int extra; } PAI;   /* a flavor of core_demo */
        struct core_gone { int x; } PAI;
        struct core_match { int x; long y; } PAI;
        enum core_color { RED = 0, GREEN = 1, BLUE = 2 };

        SEC("kprobe/demo") int demo_prog(unsigned long long *o, struct core_demo *p, struct core_demo___v2 *q)
        {
            o[0] = p->a;
            o[1] = p->b;
            o[2] = p->u32f;
            o[3] = p->s32f;
            o[4] = __builtin_preserve_field_info(p->c, F_EXISTS);
            o[5] = __builtin_preserve_field_info(p->c, F_OFFSET);
            o[6] = __builtin_preserve_field_info(p->d, F_OFFSET);
            o[7] = __builtin_preserve_field_info(p->bits, F_OFFSET);
            o[8] = __builtin_preserve_field_info(p->bits, F_SIZE);
            o[9] = __builtin_preserve_field_info(p->bits, F_SIGNED);
            o[10] = __builtin_preserve_field_info(p->bits, F_LSHIFT);
            o[11] = __builtin_preserve_field_info(p->bits, F_RSHIFT);
            o[12] = __builtin_preserve_field_info(p->more, F_LSHIFT);
            o[13] = __builtin_preserve_field_info(p->more, F_RSHIFT);
            o[14] = __builtin_preserve_field_info(p->more, F_SIGNED);
            o[15] = __builtin_preserve_field_info(p->arr[2], F_OFFSET);
            o[16] = __builtin_preserve_field_info(p->arr, F_SIZE);
            o[17] = q->b;
            o[18] = __builtin_preserve_field_info(q->extra, F_EXISTS);
            o[19] = __builtin_preserve_type_info(*(struct core_demo *)0, T_SIZE);
            o[20] = __builtin_preserve_type_info(*(struct core_gone *)0, T_EXISTS);
            o[21] = __builtin_preserve_type_info(*(struct core_gone *)0, T_SIZE);
            o[22] = __builtin_preserve_type_info(*(struct core_match *)0, T_MATCHES);
            o[23] = __builtin_preserve_type_info(*(struct core_demo *)0, T_MATCHES);
            o[24] = __builtin_preserve_enum_value(*(enum core_color *)RED, E_VALUE);
            o[25] = __builtin_preserve_enum_value(*(enum core_color *)BLUE, E_VALUE);
            o[26] = __builtin_preserve_enum_value(*(enum core_color *)GREEN, E_EXISTS);
            o[27] = __builtin_preserve_enum_value(*(enum core_color *)GREEN, E_VALUE);
            o[28] = __builtin_btf_type_id(*(struct core_demo *)0, ID_TARGET);
            o[29] = __builtin_preserve_type_info(*(struct core_demo___v2 *)0, T_EXISTS);
            return 0;
        }
        char LICENSE[] SEC("license") = "GPL";
        """;

    // The "kernel" side: the same types, moved around. Offsets by hand (BPF target: natural alignment, LP64).
    private const string TargetSource = """
        struct core_demo {
            long long d;             /* byte 0 */
            char pad[13];            /* bytes 8..20 */
            int b;                   /* byte 24 */
            int bits:3;              /* bit 224 (byte 28), now signed */
            unsigned int more:5;     /* bit 227 */
            int arr[6];              /* byte 32 (next int boundary after bit 232), 24 bytes */
            int a;                   /* byte 56 */
            unsigned long long u32f; /* byte 64: widened */
            short s32f;              /* byte 72: narrowed and signed */
        };                           /* size 74 rounded up to 8: 80 */
        struct core_match { long y; int x; int extra; };
        enum core_color { BLUE = 7, RED = 9 };
        struct core_demo demo;
        struct core_match match;
        enum core_color color;
        """;

    [Fact]
    public void Relocates_against_a_hand_written_target_btf()
    {
        var clang = TestSupport.FindTool("clang-19");
        if (clang is null) { output.WriteLine("SKIPPED: clang-19 not installed (apt-get install clang-19)"); return; }
        using var dir = new TempDir();
        var obj = Compile(clang, dir, "local_core", LocalProgram);
        var targetBtf = Compile(clang, dir, "target_core", TargetSource).Object.Btf!;
        int targetDemoId = targetBtf.Find<BtfComposite>("core_demo")!.Id;
        var bpftool = TestSupport.FindTool("bpftool");
        if (bpftool is not null) // bpftool's id for the same type, when available
            Assert.Equal(BpftoolRawBtf.Dump(bpftool, Path.Combine(dir.Path, "target_core.o")).Named("STRUCT", "core_demo").Id, targetDemoId);

        var expected = new Dictionary<(K, string, string), Expect>
        {
            [(K.FieldByteOffset, "core_demo", "0:0")] = new(Form.Ldx, 56, 4),
            [(K.FieldByteOffset, "core_demo", "0:1")] = new(Form.Ldx, 24, 4),
            [(K.FieldByteOffset, "core_demo", "0:7")] = new(Form.Ldx, 64, 8),   // unsigned 4 -> 8 bytes: widened load
            [(K.FieldByteOffset, "core_demo", "0:8")] = new(Form.Poison),        // signed int -> short: size change refused
            [(K.FieldExists, "core_demo", "0:2")] = new(Form.Imm, 0),
            [(K.FieldByteOffset, "core_demo", "0:2")] = new(Form.Poison),
            [(K.FieldByteOffset, "core_demo", "0:3")] = new(Form.Imm, 0),
            [(K.FieldByteOffset, "core_demo", "0:4")] = new(Form.Imm, 28),       // 4-byte unit holding bits 224..226
            [(K.FieldByteSize, "core_demo", "0:4")] = new(Form.Imm, 4),
            [(K.FieldSigned, "core_demo", "0:4")] = new(Form.Imm, 1),
            [(K.FieldLShiftU64, "core_demo", "0:4")] = new(Form.Imm, 64 - (224 + 3 - 28 * 8)),
            [(K.FieldRShiftU64, "core_demo", "0:4")] = new(Form.Imm, 64 - 3),
            [(K.FieldLShiftU64, "core_demo", "0:5")] = new(Form.Imm, 64 - (227 + 5 - 28 * 8)),
            [(K.FieldRShiftU64, "core_demo", "0:5")] = new(Form.Imm, 64 - 5),
            [(K.FieldSigned, "core_demo", "0:5")] = new(Form.Imm, 0),
            [(K.FieldByteOffset, "core_demo", "0:6:2")] = new(Form.Imm, 32 + 2 * 4),
            [(K.FieldByteSize, "core_demo", "0:6")] = new(Form.Imm, 6 * 4),
            [(K.FieldByteOffset, "core_demo___v2", "0:0")] = new(Form.Ldx, 24, 4),
            [(K.FieldExists, "core_demo___v2", "0:1")] = new(Form.Imm, 0),
            [(K.TypeSize, "core_demo", "0")] = new(Form.Imm, 80),
            [(K.TypeExists, "core_gone", "0")] = new(Form.Imm, 0),
            [(K.TypeSize, "core_gone", "0")] = new(Form.Poison),
            [(K.TypeMatches, "core_match", "0")] = new(Form.Imm, 1),             // same names, sizes, signedness; order differs
            [(K.TypeMatches, "core_demo", "0")] = new(Form.Imm, 0),              // member c is missing
            [(K.EnumValue, "core_color", "0")] = new(Form.Imm, 9),
            [(K.EnumValue, "core_color", "2")] = new(Form.Imm, 7),
            [(K.EnumValueExists, "core_color", "1")] = new(Form.Imm, 0),
            [(K.EnumValue, "core_color", "1")] = new(Form.Poison),
            [(K.TypeIdTarget, "core_demo", "0")] = new(Form.Lddw, targetDemoId),
            [(K.TypeExists, "core_demo___v2", "0")] = new(Form.Imm, 1),
        };
        CheckProgram(obj, targetBtf, expected, poisoned: 4);
    }

    private void CheckProgram((string Path, BpfObject Object) obj, Btf.Btf target, Dictionary<(K, string, string), Expect> expected,
        int poisoned, int failed = 0)
    {
        var program = obj.Object.Programs.Single();
        var localBtf = obj.Object.Btf!;
        var report = CoreRelocator.Apply(program, localBtf, target);
        foreach (var r in report.Results) output.WriteLine(r.ToString());
        Assert.Equal(failed == 0, report.Succeeded);
        Assert.Equal(failed, report.Results.Count(r => r.Outcome == CoreRelocationOutcome.Failed));
        Assert.Equal(program.CoreRelocations.Count, report.Results.Count);

        var seen = new HashSet<(K, string, string)>();
        var aluOps = new HashSet<byte>();
        var insns = report.Instructions;
        var original = program.Instructions;
        foreach (var r in report.Results)
        {
            var relo = r.Relocation;
            var key = (relo.Kind, localBtf.Types[relo.TypeId].Name, relo.AccessString);
            Assert.True(expected.TryGetValue(key, out var e), $"no expectation for {key}");
            seen.Add(key);
            var insn = insns[relo.InstructionIndex];
            switch (e!.Form)
            {
                case Form.Failed:
                    Assert.Equal(CoreRelocationOutcome.Failed, r.Outcome);
                    Assert.Equal(original[relo.InstructionIndex], insn);
                    break;
                case Form.Poison:
                    Assert.Equal(CoreRelocationOutcome.Poisoned, r.Outcome);
                    Assert.Equal((byte)0x85, insn.Opcode);
                    Assert.Equal(0xbad2310, insn.Imm);
                    break;
                case Form.Imm:
                    Assert.Equal(CoreRelocationOutcome.Patched, r.Outcome);
                    if (insn.Opcode == 0x18) // clang materialises enumerator values with lddw
                    {
                        Assert.Equal(e.Value, (long)((uint)insn.Imm | ((ulong)(uint)insns[relo.InstructionIndex + 1].Imm << 32)));
                        break;
                    }
                    Assert.True(insn.Class is OpClass.Alu64 or OpClass.Alu, $"{key}: {insn}");
                    aluOps.Add(insn.Opcode);
                    Assert.Equal(e.Value, (long)insn.Imm);
                    break;
                case Form.Ldx:
                {
                    Assert.Equal(CoreRelocationOutcome.Patched, r.Outcome);
                    Assert.Equal(OpClass.Ldx, insn.Class);
                    Assert.Equal(e.Value, (long)insn.Offset);
                    int size = (insn.Opcode & 0x18) switch { 0x00 => 4, 0x08 => 2, 0x10 => 1, _ => 8 };
                    Assert.Equal(e.LoadSize, size);
                    Assert.Equal(original[relo.InstructionIndex].Opcode & ~0x18, insn.Opcode & ~0x18); // mode and class kept
                    break;
                }
                case Form.Lddw:
                    Assert.Equal(CoreRelocationOutcome.Patched, r.Outcome);
                    Assert.Equal((byte)0x18, insn.Opcode);
                    Assert.Equal(e.Value, (long)((uint)insn.Imm | ((ulong)(uint)insns[relo.InstructionIndex + 1].Imm << 32)));
                    break;
            }
        }
        Assert.Equal(expected.Keys.OrderBy(k => k.ToString()), seen.OrderBy(k => k.ToString()));
        Assert.Equal(poisoned, report.Results.Count(r => r.Outcome == CoreRelocationOutcome.Poisoned));
        output.WriteLine($"relocated ALU opcodes: {string.Join(", ", aluOps.Select(o => $"0x{o:x2}"))}");
        // Only relocated instructions (and the second slot of a poisoned lddw) may change.
        var touched = report.Results.Select(r => r.Relocation.InstructionIndex).ToHashSet();
        for (int i = 0; i < insns.Length; i++)
            if (!touched.Contains(i) && !(touched.Contains(i - 1) && original[i - 1].Opcode == 0x18))
                Assert.Equal(original[i], insns[i]);
    }

    private const string PathsProgram = Prelude + """
        struct amb { int y; } PAI;                       /* two target candidates disagree on y */
        struct agree { int y; } PAI;                     /* two target candidates agree on y */
        struct flex { int n; int data[]; } PAI;          /* flexible array: any index is accepted */
        struct inner { int z; int w; } PAI;
        struct outer { int a; struct inner in; struct inner arr2[3]; } PAI;
        struct { int v; } anon_var;                      /* an anonymous struct, for a hand-made relocation */

        SEC("kprobe/paths") int paths_prog(unsigned long long *o, struct outer *p, struct flex *f, struct amb *x, struct agree *g)
        {
            o[0] = __builtin_preserve_field_info(p->in.z, F_OFFSET);
            o[1] = __builtin_preserve_field_info(p->arr2[2].w, F_OFFSET);
            o[2] = p->a;
            o[3] = __builtin_preserve_field_info(f->data[5], F_OFFSET);
            o[4] = __builtin_preserve_field_info(x->y, F_OFFSET);
            o[5] = __builtin_preserve_field_info(g->y, F_OFFSET);
            o[6] = __builtin_preserve_field_info(p->in, F_SIZE);
            return anon_var.v;
        }
        char LICENSE[] SEC("license") = "GPL";
        """;

    private const string PathsTarget = """
        struct amb { int x; int y; };                    /* y at 4 */
        struct amb___alt { int y; int x; };              /* y at 0: ambiguous with the above */
        struct agree { int x; int y; };                  /* y at 4 */
        struct agree___alt { int x; int y; int z; };     /* y at 4 too */
        struct flex { long n; int data[]; };             /* data at 8 */
        struct inner { int w; long q; int z; };          /* w 0, q 8, z 16; size 24 */
        struct outer { struct inner arr2[4]; long pad; struct inner in; int a; };  /* arr2 0, pad 96, in 104, a 128 */
        struct amb v1; struct amb___alt v2; struct agree v3; struct agree___alt v4; struct flex v5; struct outer v6;
        """;

    [Fact]
    public void Walks_nested_paths_flexible_arrays_and_rejects_ambiguous_candidates()
    {
        var clang = TestSupport.FindTool("clang-19");
        if (clang is null) { output.WriteLine("SKIPPED: clang-19 not installed (apt-get install clang-19)"); return; }
        using var dir = new TempDir();
        var obj = Compile(clang, dir, "paths", PathsProgram);
        var target = Compile(clang, dir, "paths_target", PathsTarget).Object.Btf!;
        var expected = new Dictionary<(K, string, string), Expect>
        {
            [(K.FieldByteOffset, "outer", "0:1:0")] = new(Form.Imm, 104 + 16),
            [(K.FieldByteOffset, "outer", "0:2:2:1")] = new(Form.Imm, 0 + 2 * 24 + 0),
            [(K.FieldByteOffset, "outer", "0:0")] = new(Form.Ldx, 128, 4),
            [(K.FieldByteOffset, "flex", "0:1:5")] = new(Form.Imm, 8 + 5 * 4),
            [(K.FieldByteOffset, "amb", "0:0")] = new(Form.Failed),
            [(K.FieldByteOffset, "agree", "0:0")] = new(Form.Imm, 4),
            [(K.FieldByteSize, "outer", "0:1")] = new(Form.Imm, 24),
        };
        CheckProgram(obj, target, expected, poisoned: 0, failed: 1);

        var program = obj.Object.Programs.Single();
        var amb = CoreRelocator.Apply(program, obj.Object.Btf!, target).Results.Single(r => r.Outcome == CoreRelocationOutcome.Failed);
        Assert.Contains("ambiguity", amb.Message);

        // libbpf cannot look anonymous types up by name, so it refuses to relocate them.
        var anonId = obj.Object.Btf!.Find<BtfVar>("anon_var")!.TypeId;
        Assert.Equal("", obj.Object.Btf!.Types[anonId].Name);
        var anonRelo = program.CoreRelocations[0] with { TypeId = anonId, AccessString = "0:0" };
        var anon = CoreRelocator.Resolve(anonRelo, obj.Object.Btf!, target);
        Assert.Equal(CoreRelocationOutcome.Failed, anon.Outcome);
        Assert.Contains("anonymous", anon.Message);
    }

    /// <summary>
    /// Against its own BTF every relocation must resolve to what clang emitted (the relocator checks each instruction
    /// against the locally computed value, so this compares our reading of the access paths with clang's). Bitfield
    /// offsets and sizes are the exception libbpf documents: clang 19 may pick a wider load unit than libbpf's
    /// smallest-aligned-load rule, so those are not checked against clang and may be rewritten. ("local" is not used:
    /// its BTF holds both core_demo and core_demo___v2, which libbpf rightly finds ambiguous as a target.)
    /// </summary>
    [Theory]
    [InlineData("kernel")]
    [InlineData("paths")]
    public void Relocating_against_the_objects_own_btf_changes_nothing(string which)
    {
        var clang = TestSupport.FindTool("clang-19");
        if (clang is null) { output.WriteLine("SKIPPED: clang-19 not installed (apt-get install clang-19)"); return; }
        using var dir = new TempDir();
        var source = which switch { "kernel" => KernelProgram, "local" => LocalProgram, _ => PathsProgram };
        var obj = Compile(clang, dir, which, source).Object;
        var program = obj.Programs.Single();
        var report = CoreRelocator.Apply(program, obj.Btf!, obj.Btf!);
        foreach (var r in report.Results) output.WriteLine(r.ToString());
        Assert.True(program.CoreRelocations.Count >= 7);
        Assert.All(report.Results, r => Assert.Equal(CoreRelocationOutcome.Patched, r.Outcome));
        Assert.All(report.Results, r => Assert.Equal(r.LocalValue, r.TargetValue));
        var original = program.ToArray();
        var bitfieldRelocations = report.Results.Select(r => r.Relocation).Where(r => IsBitfieldAccess(obj.Btf!, r)).ToList();
        foreach (var r in bitfieldRelocations)
            original[r.InstructionIndex] = report.Instructions[r.InstructionIndex];
        Assert.Equal(original, report.Instructions);
        Assert.Equal(which == "kernel" ? 5 : 0, bitfieldRelocations.Count); // pkt_type: offset, size, signed, lshift, rshift
    }

    private static bool IsBitfieldAccess(Btf.Btf btf, CoreRelocation r)
    {
        var path = r.AccessString.Split(':');
        return r.Kind <= K.FieldRShiftU64 && path.Length == 2 && btf.SkipModifiers(r.TypeId) is BtfComposite c
            && c.Members[int.Parse(path[1])].BitfieldSize > 0;
    }

    [Fact]
    public void Malformed_relocations_fail_with_a_reason_and_leave_the_instruction_alone()
    {
        var clang = TestSupport.FindTool("clang-19");
        if (clang is null) { output.WriteLine("SKIPPED: clang-19 not installed (apt-get install clang-19)"); return; }
        using var dir = new TempDir();
        var obj = Compile(clang, dir, "local_core", LocalProgram);
        var target = Compile(clang, dir, "target_core", TargetSource).Object.Btf!;
        var program = obj.Object.Programs.Single();
        var localBtf = obj.Object.Btf!;
        var good = program.CoreRelocations.First(r => r.Kind == K.FieldByteOffset && r.AccessString == "0:1");
        var ldxIndex = good.InstructionIndex;
        var movIndex = program.CoreRelocations.First(r => r.Kind == K.TypeSize).InstructionIndex;
        var demoId = good.TypeId;

        var cases = new (CoreRelocation Relo, string Reason)[]
        {
            (good with { AccessString = "0:99" }, "past the 9 members"),
            (good with { AccessString = "0:x" }, "bad index 'x'"),
            (good with { AccessString = "" }, "empty access string"),
            (good with { TypeId = 1_000_000 }, "out of range"),
            (good with { Kind = (K)42 }, "unknown relocation kind 42"),
            (good with { Kind = K.TypeSize }, "needs access string '0'"),
            (good with { AccessString = "0:0" }, "unexpected insn"),                       // the load's offset is b's, not a's
            (good with { InstructionIndex = program.InstructionCount }, "outside the program"),
            (new CoreRelocation(movIndex, demoId, "0:1", K.FieldSigned), "unexpected insn"), // imm holds a size, not 1
            (new CoreRelocation(ldxIndex, demoId, "0:6:2", K.FieldLShiftU64), "array element"),
        };
        foreach (var (relo, reason) in cases)
        {
            var report = CoreRelocator.Apply(program.Instructions, [relo], localBtf, target);
            var r = Assert.Single(report.Results);
            output.WriteLine(r.ToString());
            Assert.Equal(CoreRelocationOutcome.Failed, r.Outcome);
            Assert.Contains(reason, r.Message);
            Assert.False(report.Succeeded);
            Assert.Equal(program.ToArray(), report.Instructions);
            var ex = Assert.Throws<BpfObjectException>(report.ThrowIfFailed);
            Assert.Contains(reason, ex.Message);
        }
    }

    [Theory]
    [InlineData("task_struct", "task_struct")]
    [InlineData("task_struct___v2", "task_struct")]
    [InlineData("task_struct___v2___old", "task_struct___v2")]
    [InlineData("a___b", "a")]
    [InlineData("a____b", "a____b")]   // four underscores: the separator needs non-underscores on both sides
    [InlineData("___x", "___x")]
    [InlineData("x___", "x___")]
    [InlineData("_x___y", "_x")]
    [InlineData("", "")]
    public void Essential_name_strips_the_last_flavor(string name, string essential) =>
        Assert.Equal(essential, Btf.Btf.EssentialName(name));

    private static (string Path, BpfObject Object) Compile(string clang, TempDir dir, string name, string source)
    {
        var c = Path.Combine(dir.Path, name + ".c");
        var o = Path.Combine(dir.Path, name + ".o");
        File.WriteAllText(c, source);
        TestSupport.Run(clang, "-target", "bpf", "-O2", "-g", "-c", c, "-o", o);
        return (o, BpfObject.Load(o));
    }

    private sealed class TempDir : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("bpfsharp-core-").FullName;
        public void Dispose() => Directory.Delete(Path, true);
    }
}

/// <summary>Random relocations (kinds, type ids, access strings, instruction indexes) yield a result, never an exception.</summary>
public sealed class CoreRelocatorFuzzTests(ITestOutputHelper output)
{
    /// <summary>A named struct, union or enum of <paramref name="btf"/> and a random access path that exists in it.</summary>
    private static (int TypeId, string Access) ValidPath(Btf.Btf btf, Random rng)
    {
        var roots = btf.Types.Where(t => t.Name.Length > 0 && t is BtfComposite or BtfEnum).ToList();
        if (roots.Count == 0) return (0, "0");
        var root = roots[rng.Next(roots.Count)];
        if (root is BtfEnum e) return (root.Id, e.Values.Count == 0 ? "0" : rng.Next(e.Values.Count).ToString());
        var path = new List<int> { 0 };
        var t = btf.SkipModifiers(root.Id);
        while (rng.Next(3) != 0)
        {
            if (t is BtfComposite c && c.Members.Count > 0)
            {
                int i = rng.Next(c.Members.Count);
                path.Add(i);
                t = btf.SkipModifiers(c.Members[i].TypeId);
            }
            else if (t is BtfArray a && a.Length > 0)
            {
                path.Add(rng.Next((int)Math.Min(a.Length, int.MaxValue)));
                t = btf.SkipModifiers(a.ElementTypeId);
            }
            else break;
        }
        return (root.Id, string.Join(':', path));
    }

    [Fact]
    public void Random_relocations_never_throw()
    {
        var local = BpfObject.Load(Path.Combine(TestSupport.DataDir, "btf", "kinds.o")).Btf!;
        var targets = new List<(string Name, Btf.Btf Btf)>
        {
            ("features.o", BpfObject.Load(Path.Combine(TestSupport.DataDir, "btf", "features.o")).Btf!),
            ("kinds.o", local),
        };
        if (File.Exists(Btf.Btf.KernelBtfPath)) targets.Add(("vmlinux", Btf.Btf.LoadKernel()));
        // One slot of each form a relocation may meet: ALU imm, ALU reg, LDX, ST, STX, lddw (two slots), call, exit.
        RawInstruction[] insns =
        [
            new(0xb7, 1, 0, 0, 4), new(0x0f, 1, 2, 0, 0), new(0x61, 1, 2, 8, 0), new(0x62, 10, 0, -8, 1),
            new(0x7b, 10, 1, -16, 0), new(0x18, 1, 0, 0, 3), new(0x00, 0, 0, 0, 0), new(0x85, 0, 0, 0, 1), new(0x95, 0, 0, 0, 0),
        ];
        var rng = new Random(20261122);
        var counts = new Dictionary<CoreRelocationOutcome, int>();
        for (int i = 0; i < 20_000; i++)
        {
            int depth = rng.Next(0, 6);
            var access = string.Join(':', Enumerable.Range(0, depth).Select(_ => rng.Next(0, 100) < 90 ? rng.Next(0, 4) : rng.Next()));
            if (rng.Next(20) == 0) access += ":-1";
            int typeId = rng.Next(-1, local.Types.Count + 1);
            if (rng.Next(2) == 0) (typeId, access) = ValidPath(local, rng); // half the cases reach the matching code
            var relo = new CoreRelocation(rng.Next(-1, insns.Length + 1), typeId,
                rng.Next(10) == 0 ? "0" : access, (CoreRelocationKind)rng.Next(0, 14));
            var (name, target) = targets[rng.Next(targets.Count)];
            var report = CoreRelocator.Apply(insns, [relo], local, target);
            var r = Assert.Single(report.Results);
            counts[r.Outcome] = counts.GetValueOrDefault(r.Outcome) + 1;
            Assert.Equal(insns.Length, report.Instructions.Length);
            if (r.Outcome == CoreRelocationOutcome.Failed) Assert.Equal(insns, report.Instructions);
            Assert.False(string.IsNullOrEmpty(r.Message), $"{relo} against {name}");
        }
        output.WriteLine(string.Join(", ", counts.Select(kv => $"{kv.Key}: {kv.Value}")));
        Assert.True(counts.GetValueOrDefault(CoreRelocationOutcome.Poisoned) > 0);
        Assert.True(counts.GetValueOrDefault(CoreRelocationOutcome.Patched) > 0);
    }
}
