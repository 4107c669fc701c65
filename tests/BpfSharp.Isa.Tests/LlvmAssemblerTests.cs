using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;

namespace BpfSharp.Isa.Tests;

public sealed class LlvmAssemblerTests
{
    private static string Hex(byte[] bytes) => Convert.ToHexString(bytes).ToLowerInvariant();

    /// <summary>Encodings printed by <c>llvm-mc-19 -triple bpfel -mcpu=v4 -show-encoding</c> for the same text.</summary>
    public static TheoryData<string, string> LlvmMcEncodings() => new()
    {
        { "r0 = 1", "b700000001000000" },
        { "w1 += w2", "0c21000000000000" },
        { "r1 = -r1", "8701000000000000" },
        { "if r1 s> 0x5 goto +3", "6501030005000000" },
        { "if w1 == w2 goto -4", "1e21fcff00000000" },
        { "goto +2", "0500020000000000" },
        { "gotol +100", "0600000064000000" },
        { "*(u32 *)(r10 - 0x4) = r1", "631afcff00000000" },
        { "*(u8 *)(r1 + 0x2) = 0x7", "7201020007000000" },
        { "r0 = *(s8 *)(r1 + 0x0)", "9110000000000000" },
        { "lock *(u64 *)(r1 + 0x0) += r2", "db21000000000000" },
        { "lock *(u32 *)(r1 + 0x0) |= w2", "c321000040000000" },
        { "r0 = atomic_fetch_add((u64 *)(r1 + 0x0), r0)", "db01000001000000" },
        { "w0 = atomic_fetch_or((u32 *)(r1 + 0x8), w0)", "c301080041000000" },
        { "r0 = xchg_64(r1 + 0x0, r0)", "db010000e1000000" },
        { "r0 = cmpxchg_64(r1 + 0x0, r0, r2)", "db210000f1000000" },
        { "w0 = cmpxchg32_32(r1 + 0x0, w0, w2)", "c3210000f1000000" },
        { "r1 = 0x1234 ll", "18010000341200000000000000000000" },
        { "r0 = bswap64 r0", "d700000040000000" },
        { "r0 = be16 r0", "dc00000010000000" },
        { "r0 = le32 r0", "d400000020000000" },
        { "r1 = (s8)r2", "bf21080000000000" },
        { "w1 = (s16)w2", "bc21100000000000" },
        { "r0 s/= r1", "3f10010000000000" },
        { "r0 s%= 5", "9700010005000000" },
        { "r0 s>>= 3", "c700000003000000" },
        { "call 0x1", "8500000001000000" },
        { "call -0x5", "85000000fbffffff" },
        { "callx r2", "8d02000000000000" },
        { "exit", "9500000000000000" },
        { "r0 = *(u8 *)skb[0x17]", "3000000017000000" },
        { "r0 = *(u16 *)skb[r3]", "4830000000000000" },
        { "r1 = 0xffffffff", "b7010000ffffffff" },
        { "w2 = -2147483648", "b402000000000080" },
        { "r3 = 18446744073709551615 ll", "18030000ffffffff00000000ffffffff" },
        { "*(u64 *)(r10 - 32768) = -1", "7a0a0080ffffffff" },
        { "w1 = *(u16 *)(r2 + 32767)", "6921ff7f00000000" },
        { "ld_pseudo r1, 2, 7", "18210000070000000000000000000000" },
    };

    [Theory]
    [MemberData(nameof(LlvmMcEncodings))]
    public void Assembles_like_llvm_mc(string source, string hex)
    {
        // A jump needs somewhere to land: pad with exits after it (and before, for backward jumps).
        var program = source.Contains("goto", StringComparison.Ordinal)
            ? LlvmAssembler.Assemble(string.Join('\n', Enumerable.Repeat("exit", 4)) + "\n" + source + "\n" + string.Join('\n', Enumerable.Repeat("exit", 101)))
            : LlvmAssembler.Assemble(source);
        var bytes = program.ToBytes();
        int start = source.Contains("goto", StringComparison.Ordinal) ? 32 : 0;
        Assert.Equal(hex, Hex(bytes[start..(start + hex.Length / 2)]));
    }

    /// <summary>Forms beyond llvm-mc's (labels, extended and kernel-log spellings); encodings computed by hand from RFC 9669.</summary>
    public static TheoryData<string, string> ExtendedEncodings() => new()
    {
        // goto over one instruction: offset 1
        { "goto LBB0_2\nr0 = 1\nLBB0_2:\nexit", "0500010000000000" + "b700000001000000" + "9500000000000000" },
        // .L labels, backward: from slot 1 to slot 0 is offset -2
        { ".LBB0_1:\nr0 += 1\nif r0 < 10 goto .LBB0_1\nexit", "0700000001000000" + "a500feff0a000000" + "9500000000000000" },
        // call to a label is a local call (src 1), imm = target - (pc + 1)
        { "call f\nexit\nf:\nr0 = 0\nexit", "8510000001000000" + "9500000000000000" + "b700000000000000" + "9500000000000000" },
        // gotol to a label puts the distance in imm
        { "gotol end\nr0 = 2\nend:\nexit", "0600000001000000" + "b700000002000000" + "9500000000000000" },
        // lossless spellings
        { "call pc+0x1\nexit\nexit", "8510000001000000" + "9500000000000000" + "9500000000000000" },
        { "call kfunc(0x4d2, 0x5)\nexit", "85200500d2040000" + "9500000000000000" },
        { "r1 = map_fd(0x3) ll\nexit", "1811000003000000" + "0000000000000000" + "9500000000000000" },
        { "r1 = map_value(0x3) + 0x10 ll\nexit", "1821000003000000" + "0000000010000000" + "9500000000000000" },
        { "r0 = *(u32 *)skb[r3 + 0x17]\nexit", "4030000017000000" + "9500000000000000" },
        { "r0 = *(u32 *)skb[r3 - 0x1]\nexit", "40300000ffffffff" + "9500000000000000" },
        // llvm-objdump listing lines: address column, symbol header, target annotation, hex header address
        { "0000000000000000 <f>:\n       0:\tif r1 > r2 goto +0x1 <f+0x10>\n       1:\tr0 = 0x0\n00000000000000c8 <g>:\n       2:\texit",
          "2d21010000000000" + "b700000000000000" + "9500000000000000" },
        // kernel verifier log lines: index, opcode column, decimal, "pc+N", helper by name#id, "(r1 +4)"
        { "0: (b7) r0 = 1\n1: (61) r2 = *(u32 *)(r1 +4)\n2: (85) call bpf_map_lookup_elem#1\n3: (65) if r1 s> 0x5 goto pc+0\n4: (95) exit",
          "b700000001000000" + "6112040000000000" + "8500000001000000" + "6501000005000000" + "9500000000000000" },
        // kernel verifier log atomics and lddw (printed without "ll"; the "(18)" column says it is one)
        { "r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)\nr2 = atomic_fetch_and((u32 *)(r1 -4), r2)\nexit",
          "db21000001000000" + "c321fcff51000000" + "9500000000000000" },
        { "r2 = atomic64_xchg((u64 *)(r1 +8), r2)\nr0 = atomic_cmpxchg((u32 *)(r1 +0), r0, r3)\nexit",
          "db210800e1000000" + "c3310000f1000000" + "9500000000000000" },
        { "0: (18) r1 = 0x1234\n2: (48) r0 = *(u16 *)skb[r3 + 0]\n3: (95) exit",
          "1801000034120000" + "0000000000000000" + "4830000000000000" + "9500000000000000" },
        // clang -S spellings: "r1 = w2" is a 32-bit move; "r1 = f ll" loads a function's address (BPF_PSEUDO_FUNC)
        { "r1 = w2\nr3 = f ll\nexit\nf:\nexit", "bc21000000000000" + "1843000002000000" + "0000000000000000" + "9500000000000000" + "9500000000000000" },
        { "f:\nexit\nr3 = f ll\nexit", "9500000000000000" + "18430000feffffff" + "0000000000000000" + "9500000000000000" },
        // a Linux helper by name when no label has that name (uapi order: 5 is ktime_get_ns)
        { "call bpf_ktime_get_ns\ncall ktime_get_ns\nexit", "8500000005000000" + "8500000005000000" + "9500000000000000" },
        // comments
        { "; header\n// another\n# and another\nr0 = 1 ; set r0\nr0 += 2 // add\nexit # done", "b700000001000000" + "0700000002000000" + "9500000000000000" },
        // w registers for narrow loads/stores (llvm-objdump --mcpu=v4), r registers for narrow atomics (no cpu)
        { "w1 = *(u8 *)(r2 + 0x1)\n*(u16 *)(r10 - 0x2) = w1\nlock *(u32 *)(r1 + 0x0) += r2\nexit",
          "7121010000000000" + "6b1afeff00000000" + "c321000000000000" + "9500000000000000" },
    };

    [Theory]
    [MemberData(nameof(ExtendedEncodings))]
    public void Assembles_extended_forms(string source, string hex)
    {
        Assert.Equal(hex, Hex(LlvmAssembler.Assemble(source).ToBytes()));
    }

    public static TheoryData<string, int, int, string> Errors() => new()
    {
        { "r0 = 1\nr11 = 2\nexit", 2, 1, "unknown instruction 'r11'" },
        { "r0 += w1", 1, 7, "both registers" },
        { "exit\ngoto nowhere", 2, 6, "undefined label 'nowhere'" },
        { "r1 = 0x100000000\nexit", 1, 6, "does not fit in 32 bits" },
        { "*(u32 *)(r1 + 0x8000) = 1", 1, 13, "memory offset" },
        { "lock *(u16 *)(r1 + 0) += r2", 1, 8, "u32 or u64" },
        { "r0 = *(u64 *)skb[1]", 1, 8, "u8, u16 or u32" },
        { "exit extra", 1, 6, "unexpected 'extra'" },
        { "l:\nexit\nl:\nexit", 3, 1, "defined twice" },
        { "r1 = 5 ?", 1, 8, "unexpected character '?'" },
        { "goto +0x8000", 1, 6, "jump offset" },
        { ".byte 1", 1, 1, "data directive '.byte' in a code section" },
        { "  .weird 3", 1, 3, "unsupported directive '.weird'" },
        { ".data\nr0 = 1", 2, 1, "instruction outside a code section" },
        { "r1 = counter ll\nexit\n.section .bss,\"aw\",@nobits\ncounter:\n.quad 0", 1, 6, "'counter' is a data symbol" },
        { "r1 = nowhere ll\nexit", 1, 6, "undefined label 'nowhere'" },
        { "r1 = atomic64_xchg((u32 *)(r2 +0), r1)", 1, 21, "takes u64" },
        { "r1 = 0x12g", 1, 6, "malformed number" },
        { "r1 = 1e5", 1, 6, "malformed number" },
        { "if r1 ~ 2 goto +1", 1, 7, "unexpected character '~'" },
        { "if r1 = 2 goto +1", 1, 7, "comparison operator" },
        { "r2 = xchg_64(r1 + 0, r3)", 1, 22, "must be r2" },
        { "r1 = cmpxchg_64(r1 + 0, r0, r2)", 1, 1, "r0" },
        { "r1 = bswap32 r2", 1, 14, "must name its destination" },
        { "w1 = (s32)w2", 1, 7, "not available for w registers" },
        { "r1 = *(u32 *)(w2 + 0)", 1, 15, "address register" },
        { "call kfunc(1", 1, 13, "expected ')'" },
        // validation by the decoder, reported on the offending line
        { "r0 = 1\nr10 = 1\nexit", 2, 1, "read-only frame pointer" },
        { "goto +5\nexit", 1, 1, "outside the program" },
        { "r0 = 0x1 ll\ngoto -2\nexit", 2, 1, "middle of an lddw" },
        { "", 0, 0, "no instructions" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void Reports_errors_with_line_and_column(string source, int line, int column, string message)
    {
        var e = Assert.Throws<AsmException>(() => LlvmAssembler.Assemble(source));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        Assert.Equal(line, e.Line);
        Assert.Equal(column, e.Column);
        Assert.IsAssignableFrom<FormatException>(e);
    }

    /// <summary>
    /// Assembler output of <c>clang-19 -target bpf -O2 -mcpu=v4 -S golden/c/calls.c</c> (directives, sections, a data
    /// section, comments, labels, "r2 = w1", "r2 = step ll", "call mix"), trimmed of .loc and debug sections.
    /// </summary>
    private const string ClangOutput = """
        	.text
        	.file	"calls.c"
        	.section	xdp,"ax",@progbits
        	.globl	prog                            # -- Begin function prog
        	.p2align	3
        	.type	prog,@function
        prog:                                   # @prog
        # %bb.0:
        	*(u64 *)(r10 - 8) = r1
        	r3 = r10
        	r3 += -8
        	w1 = 16
        	r2 = step ll
        	r4 = 0
        	call 181
        	r1 = *(u64 *)(r10 - 8)
        	r2 = 3
        	call mix
                                                # kill: def $w0 killed $w0 killed $r0
        	exit
        .Lfunc_end0:
        	.size	prog, .Lfunc_end0-prog
                                                # -- End function
        	.text
        	.p2align	3                               # -- Begin function step
        	.type	step,@function
        step:                                   # @step
        # %bb.0:
        	r6 = r2
        	r3 = *(u64 *)(r6 + 0)
        	r2 = w1
        	r1 = r3
        	call mix
        	*(u64 *)(r6 + 0) = r0
        	r0 = 0
        	exit
        .Lfunc_end1:
        	.size	step, .Lfunc_end1-step
        	.p2align	3                               # -- Begin function mix
        	.type	mix,@function
        mix:                                    # @mix
        # %bb.0:
        	r0 = r2
        	r0 <<= 7
        	r0 ^= r1
        	r1 = -7046029254386353131 ll
        	r0 *= r1
        	exit
        .Lfunc_end2:
        	.size	mix, .Lfunc_end2-mix
        	.type	_license,@object                # @_license
        	.section	license,"aw",@progbits
        	.globl	_license
        _license:
        	.asciz	"GPL"
        	.size	_license, 4
        	.section	".note.GNU-stack","",@progbits
        	.addrsig
        	.addrsig_sym prog
        """;

    [Fact]
    public void Assembles_clang_assembler_output()
    {
        var program = LlvmAssembler.Assemble(ClangOutput);
        // prog is slots 0-11 (lddw takes two), step 12-19, mix 20-26; distances computed by hand.
        Assert.Equal(new[] { 0, 12, 20 }, program.FunctionStarts);
        var lossless = new LlvmDisassemblyOptions { Lossless = true };
        Assert.Equal("r2 = func(0x7) ll", LlvmDisassembler.Format(program[4], 4, lossless));     // 12 - (4 + 1)
        Assert.Equal("call 0xb5", LlvmDisassembler.Format(program[7], 7, lossless));             // helper 181
        Assert.Equal("call pc+0x9", LlvmDisassembler.Format(program[10], 10, lossless));         // 20 - (10 + 1)
        Assert.Equal("w2 = w1", LlvmDisassembler.Format(program[14], 14, lossless));
        Assert.Equal("call pc+0x3", LlvmDisassembler.Format(program[16], 16, lossless));         // 20 - (16 + 1)
        Assert.Equal("r1 = -0x61c8864680b583eb ll", LlvmDisassembler.Format(program[23], 23, lossless));
        Assert.Equal(27, program.Count);
    }

    /// <summary>Expected lines written from the format strings of the kernel's kernel/bpf/disasm.c (print_bpf_insn).</summary>
    [Fact]
    public void Kernel_log_style_prints_like_the_verifier()
    {
        var source = """
            r0 = 1
            w1 += -5
            r2 = *(u32 *)(r1 + 4)
            *(u64 *)(r10 - 8) = r2
            *(u32 *)(r10 - 4) = 0
            if r1 s> 0x5 goto +3
            if w1 == -1 goto +2
            if r1 == r2 goto -4
            call 1
            call pc+0x3
            call 5
            call 0x7fffffff
            lock *(u64 *)(r1 + 0x0) += r2
            r2 = atomic_fetch_add((u64 *)(r1 + 0x0), r2)
            w0 = cmpxchg32_32(r1 + 0x8, w0, w2)
            r1 = 0x1234 ll
            r0 = *(u16 *)skb[r3]
            r1 = be16 r1
            goto -0x10
            exit
            """;
        var program = LlvmAssembler.Assemble(source);
        var text = LlvmDisassembler.Disassemble(program, new LlvmDisassemblyOptions
        {
            KernelLogStyle = true,
            HelperNames = new Dictionary<int, string> { [1] = "bpf_map_lookup_elem" },
        });
        Assert.Equal("""
            0: (b7) r0 = 1
            1: (04) w1 += -5
            2: (61) r2 = *(u32 *)(r1 +4)
            3: (7b) *(u64 *)(r10 -8) = r2
            4: (62) *(u32 *)(r10 -4) = 0
            5: (65) if r1 s> 0x5 goto pc+3
            6: (16) if w1 == 0xffffffff goto pc+2
            7: (1d) if r1 == r2 goto pc-4
            8: (85) call bpf_map_lookup_elem#1
            9: (85) call pc+3
            10: (85) call bpf_ktime_get_ns#5
            11: (85) call unknown#2147483647
            12: (db) lock *(u64 *)(r1 +0) += r2
            13: (db) r2 = atomic64_fetch_add((u64 *)(r1 +0), r2)
            14: (c3) r0 = atomic_cmpxchg((u32 *)(r1 +8), r0, r2)
            15: (18) r1 = 0x1234
            17: (48) r0 = *(u16 *)skb[r3 + 0]
            18: (dc) r1 = be16 r1
            19: (05) goto pc-16
            20: (95) exit

            """.Replace("\r", "", StringComparison.Ordinal), text);
        Assert.Equal(program.ToBytes(), LlvmAssembler.Assemble(text).ToBytes());
    }

    [Fact]
    public void Label_targets_print_like_compiler_output()
    {
        var program = LlvmAssembler.Assemble("r1 = 0\nloop:\nr1 += 1\nif r1 != 5 goto loop\nr2 = sub ll\ncall sub\ngoto out\nout:\nexit\nsub:\nr0 = r1\nexit", "main");
        var text = LlvmDisassembler.Disassemble(program, new LlvmDisassemblyOptions { LabelTargets = true, ShowAddresses = false });
        Assert.Equal("""
            0000000000000000 <main>:
            r1 = 0x0
            LBB0_0:
            r1 += 0x1
            if r1 != 0x5 goto LBB0_0
            r2 = sub_8 ll
            call sub_8
            goto LBB0_1
            LBB0_1:
            exit
            sub_8:
            r0 = r1
            exit

            """, text);
        Assert.Equal(program.ToBytes(), LlvmAssembler.Assemble(text).ToBytes());
    }

    [Fact]
    public void Kfunc_calls_and_pseudo_loads_print_as_llvm_objdump_by_default_and_exactly_when_lossless()
    {
        var program = LlvmAssembler.Assemble("call kfunc(0x4d2, 0x5)\nr1 = map_value(0x3) + 0x10 ll\ncall pc-0x4\nexit");
        // llvm-objdump spellings (checked against llvm-objdump-19 output of the same bytes in the synthetic golden)
        Assert.Equal("call 0x4d2", LlvmDisassembler.Format(program[0], 0));
        Assert.Equal("ld_pseudo\tr1, 0x2, 0x3", LlvmDisassembler.Format(program[1], 1));
        Assert.Equal("call -0x4", LlvmDisassembler.Format(program[3], 3));
        var lossless = new LlvmDisassemblyOptions { Lossless = true };
        Assert.Equal("call kfunc(0x4d2, 0x5)", LlvmDisassembler.Format(program[0], 0, lossless));
        Assert.Equal("r1 = map_value(0x3) + 0x10 ll", LlvmDisassembler.Format(program[1], 1, lossless));
        Assert.Equal("call pc-0x4", LlvmDisassembler.Format(program[3], 3, lossless));
    }

    [Fact]
    public void Disassembly_of_a_program_reassembles_including_headers_and_annotations()
    {
        var source = "r1 = 0\nloop:\nr1 += 1\nif r1 != 5 goto loop\ncall sub\nexit\nsub:\nr0 = r1\nexit";
        var program = LlvmAssembler.Assemble(source, "main");
        string text = LlvmDisassembler.Disassemble(program, new LlvmDisassemblyOptions { Lossless = true });
        Assert.StartsWith("0000000000000000 <main>:\n       0:\tr1 = 0x0\n", text, StringComparison.Ordinal);
        Assert.Contains("if r1 != 0x5 goto -0x2 <main+0x8>", text, StringComparison.Ordinal);
        Assert.Equal(program.ToBytes(), LlvmAssembler.Assemble(text).ToBytes());
    }
}
