using System.Globalization;
using System.Text;
using BpfSharp.Isa;

namespace BpfSharp.Asm;

/// <summary>How <see cref="LlvmDisassembler"/> spells instructions.</summary>
public sealed record LlvmDisassemblyOptions
{
    /// <summary>The defaults: exactly what <c>llvm-objdump -d</c> (LLVM 19, default cpu) prints.</summary>
    public static LlvmDisassemblyOptions Default { get; } = new();

    /// <summary>
    /// Name narrow loads, stores and 32-bit atomics with <c>w</c> registers (<c>w1 = *(u32 *)(r2 + 0x0)</c>) as
    /// <c>llvm-objdump --mcpu=v3</c> or later does. The encoding is the same either way.
    /// </summary>
    public bool Alu32Registers { get; init; }

    /// <summary>
    /// Spell the encodings that llvm-objdump prints ambiguously in an extended form that
    /// <see cref="LlvmAssembler"/> maps back to the same bytes: local calls (<c>call pc+0x3</c>), kfunc calls
    /// (<c>call kfunc(0x4d2)</c>), lddw pseudo sources (<c>r1 = map_fd(0x3) ll</c>,
    /// <c>r1 = map_value(0x3) + 0x10 ll</c>) and <c>ld_ind</c> with a nonzero imm (<c>skb[r3 + 0x17]</c>).
    /// Off by default, where those print as llvm-objdump prints them (<c>call -0x3</c>, <c>ld_pseudo r1, 0x1, 0x3</c>,
    /// <c>skb[r3]</c>), which loses the call kind, the high half of a pseudo lddw and the ld_ind imm.
    /// </summary>
    public bool Lossless { get; init; }

    /// <summary>
    /// Function names by slot index, printed as <c>0000000000000000 &lt;name&gt;:</c> headers and used for
    /// llvm-objdump's jump target annotations (<c>goto +0x3 &lt;name+0x28&gt;</c>). When null,
    /// <c>LlvmDisassembler.Disassemble</c> names slot 0 after the program.
    /// </summary>
    public IReadOnlyDictionary<int, string>? Symbols { get; init; }

    /// <summary>Prefix each instruction with its slot index as llvm-objdump does (<c>      12:\t</c>).</summary>
    public bool ShowAddresses { get; init; } = true;

    /// <summary>Append jump target annotations (<c>&lt;name+0x28&gt;</c>) when symbols are known.</summary>
    public bool AnnotateTargets { get; init; } = true;

    /// <summary>
    /// Print as the kernel verifier log does (<c>3: (65) if r1 s&gt; 0x5 goto pc+3</c>, <c>(61) r2 = *(u32 *)(r1 +4)</c>,
    /// <c>(85) call bpf_map_lookup_elem#1</c>): decimal ALU immediates, <c>pc+N</c> targets, an opcode column, no
    /// symbol headers. <see cref="LlvmAssembler"/> reads it back, except that the log does not tell a kfunc call or an
    /// lddw pseudo source from a helper call or a plain constant.
    /// </summary>
    public bool KernelLogStyle { get; init; }

    /// <summary>
    /// Name jump targets (<c>LBB0_1:</c> lines, <c>goto LBB0_1</c>) and local functions (<c>call sub_12</c>,
    /// <c>r1 = sub_12 ll</c>, or the symbol's name) instead of printing offsets, as compiler output does; lossless.
    /// Applies to whole-program disassembly.
    /// </summary>
    public bool LabelTargets { get; init; }

    /// <summary>Labels by slot, computed by the disassembler when <see cref="LabelTargets"/> is set.</summary>
    internal IReadOnlyDictionary<int, string>? TargetLabels { get; init; }

    /// <summary>
    /// Helper names by id for <see cref="KernelLogStyle"/> calls (<c>call bpf_map_lookup_elem#1</c>), taking precedence
    /// over the Linux names of <see cref="BpfSharp.Isa.HelperNames"/>; an id known to neither prints as "unknown".
    /// </summary>
    public IReadOnlyDictionary<int, string>? HelperNames { get; init; }
}

/// <summary>
/// Disassembles eBPF into the LLVM/kernel "C-like" syntax, exactly as <c>llvm-objdump -d --no-show-raw-insn</c>
/// prints it (<c>r0 = 0x1</c>, <c>if w1 s&gt; 0x5 goto +0x3</c>, <c>*(u32 *)(r10 - 0x4) = r1</c>).
/// </summary>
public static class LlvmDisassembler
{
    /// <summary>Disassembles a whole program: a header line per function symbol and one line per instruction.</summary>
    public static string Disassemble(BpfProgram program, LlvmDisassemblyOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(program);
        return Disassemble(program.Instructions, program.Name, options);
    }

    /// <summary>
    /// Disassembles slots that need not form a valid program, as llvm-objdump does for an unrelocated object file:
    /// jump and call targets are not checked, and a slot that matches no opcode table row, or breaks its row's field
    /// rules, prints as <c>&lt;unknown&gt;</c>.
    /// </summary>
    public static string Disassemble(ReadOnlySpan<RawInstruction> slots, LlvmDisassemblyOptions? options = null, string name = "prog")
    {
        var decoded = new Instruction[slots.Length];
        for (int pc = 0; pc < slots.Length; pc++)
        {
            decoded[pc] = DecodeSlot(slots, pc);
            if (decoded[pc].Width == 2)
            {
                decoded[pc + 1] = new Instruction(Op.LddwHigh, 0, 0, 0, slots[pc + 1].Imm);
                pc++;
            }
        }
        return Disassemble(decoded, name, options);
    }

    private static string Disassemble(ReadOnlySpan<Instruction> instructions, string programName, LlvmDisassemblyOptions? options)
    {
        options ??= LlvmDisassemblyOptions.Default;
        var symbols = options.Symbols ?? new Dictionary<int, string> { [0] = programName };
        var labels = options.LabelTargets && !options.KernelLogStyle ? BuildLabels(instructions, symbols) : null;
        var resolved = options with { Symbols = symbols, TargetLabels = labels };
        var sb = new StringBuilder(instructions.Length * 32);
        for (int pc = 0; pc < instructions.Length; pc++)
        {
            string? name = null;
            if (!options.KernelLogStyle && symbols.TryGetValue(pc, out name))
            {
                if (sb.Length > 0) sb.Append('\n');
                sb.Append(CultureInfo.InvariantCulture, $"{(ulong)pc * 8:x16} <{name}>:\n");
            }
            if (labels is not null && labels.TryGetValue(pc, out var label) && label != name)
                sb.Append(label).Append(":\n");
            if (instructions[pc].Op == Op.LddwHigh) continue;
            Append(sb, instructions[pc], pc, resolved);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    private static Dictionary<int, string> BuildLabels(ReadOnlySpan<Instruction> instructions, IReadOnlyDictionary<int, string> symbols)
    {
        var jumpTargets = new SortedSet<int>();
        var functionTargets = new SortedSet<int>();
        for (int pc = 0; pc < instructions.Length; pc++)
        {
            var ins = instructions[pc];
            if (ins.Op == Op.Invalid || !ins.HasTarget) continue;
            int target = ins.JumpTarget(pc);
            if (target < 0 || target >= instructions.Length) continue;   // raw slots: leave the offset
            if (ins.Op is Op.CallLocal or Op.LddwFunc) functionTargets.Add(target);
            else jumpTargets.Add(target);
        }
        var labels = new Dictionary<int, string>();
        foreach (int target in functionTargets)
            labels[target] = symbols.TryGetValue(target, out var symbol) ? symbol : $"sub_{target}";
        int n = 0;
        foreach (int target in jumpTargets)
            labels.TryAdd(target, symbols.TryGetValue(target, out var symbol) ? symbol : $"LBB0_{n++}");
        return labels;
    }

    /// <summary>Decodes one slot (two for lddw) with the opcode table, or returns an <see cref="Op.Invalid"/> instruction.</summary>
    private static Instruction DecodeSlot(ReadOnlySpan<RawInstruction> slots, int pc)
    {
        var raw = slots[pc];
        foreach (var row in OpcodeTable.ForOpcode(raw.Opcode))
        {
            int selector = row.Discriminator switch
            {
                VariantField.Offset => raw.Offset,
                VariantField.Imm => raw.Imm,
                VariantField.Src => raw.Src,
                _ => 0,
            };
            if (selector != row.DiscriminatorValue) continue;
            bool srcIsSelector = row.Discriminator == VariantField.Src;
            if (!RegisterFits(raw.Dst, row.DstRule) || (!srcIsSelector && !RegisterFits(raw.Src, row.SrcRule))
                || (row.OffsetRule == FieldRule.Zero && raw.Offset != 0) || (row.ImmRule == FieldRule.Zero && raw.Imm != 0))
                break;
            byte src = srcIsSelector ? (byte)0 : raw.Src;
            short offset = row.Discriminator == VariantField.Offset ? (short)0 : raw.Offset;
            if (row.Width == 2)
            {
                if (pc + 1 >= slots.Length) break;
                var high = slots[pc + 1];
                if (high.Opcode != 0 || high.Dst != 0 || high.Src != 0 || high.Offset != 0) break;
                return new Instruction(row.Op, raw.Dst, src, 0, (uint)raw.Imm | ((long)high.Imm << 32));
            }
            return new Instruction(row.Op, raw.Dst, src, offset, row.Discriminator == VariantField.Imm ? 0 : raw.Imm);
        }
        return new Instruction(Op.Invalid, raw.Dst, raw.Src, raw.Offset, raw.Imm);
    }

    private static bool RegisterFits(byte register, RegisterRule rule) => rule switch
    {
        RegisterRule.Zero => register == 0,
        RegisterRule.Read => register <= 10,
        _ => register <= 9,
    };

    /// <summary>Formats one instruction in llvm-objdump's default spelling, without address or annotation.</summary>
    public static string Format(in Instruction ins, int pc) => Format(ins, pc, Plain);

    /// <summary>Formats one instruction with the given options (addresses are not printed).</summary>
    public static string Format(in Instruction ins, int pc, LlvmDisassemblyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var sb = new StringBuilder(40);
        if (options.KernelLogStyle) LlvmKernelLog.Append(sb, ins, options);
        else AppendBody(sb, ins, pc, options);
        return sb.ToString();
    }

    private static readonly LlvmDisassemblyOptions Plain = new() { ShowAddresses = false };

    private static void Append(StringBuilder sb, in Instruction ins, int pc, LlvmDisassemblyOptions options)
    {
        if (options.KernelLogStyle)
        {
            if (options.ShowAddresses) sb.Append(pc).Append(": ");
            LlvmKernelLog.Append(sb, ins, options);
            return;
        }
        if (options.ShowAddresses) sb.Append(CultureInfo.InvariantCulture, $"{pc,8}:\t");
        AppendBody(sb, ins, pc, options);
    }

    private static void AppendBody(StringBuilder sb, in Instruction ins, int pc, LlvmDisassemblyOptions options)
    {
        var row = ins.Info;
        char width = row.Is64 ? 'r' : 'w';
        switch (row.Kind)
        {
            case InstructionKind.Alu:
                AppendAlu(sb, ins, row, width);
                break;
            case InstructionKind.Endian:
                sb.Append('r').Append(ins.Dst).Append(" = ").Append(EndianName(row)).Append(row.DiscriminatorValue)
                  .Append(" r").Append(ins.Dst);
                break;
            case InstructionKind.Jump:
                sb.Append(row.Is64 ? "goto " : "gotol ");
                if (AppendLabel(sb, ins, pc, options)) break;
                AppendSignedHex(sb, row.Is64 ? ins.Offset : ins.Imm32, forcePlus: true);
                AppendTarget(sb, ins, pc, options);
                break;
            case InstructionKind.CondJump:
                sb.Append("if ").Append(width).Append(ins.Dst).Append(' ').Append(LlvmSyntax.ConditionOperator(row.Condition)).Append(' ');
                if (row.RegisterSource) sb.Append(width).Append(ins.Src);
                else AppendSignedHex(sb, ins.Imm32);
                sb.Append(" goto ");
                if (AppendLabel(sb, ins, pc, options)) break;
                AppendSignedHex(sb, ins.Offset, forcePlus: true);
                AppendTarget(sb, ins, pc, options);
                break;
            case InstructionKind.Call:
                if (row.Call == CallKind.Local && options.TargetLabels is { } labels && labels.TryGetValue(ins.JumpTarget(pc), out var callee))
                {
                    sb.Append("call ").Append(callee);
                    break;
                }
                AppendCall(sb, ins, row, options);
                break;
            case InstructionKind.Exit:
                sb.Append("exit");
                break;
            case InstructionKind.Load:
                sb.Append(options.Alu32Registers && row.Size < 8 && !row.SignExtend ? 'w' : 'r').Append(ins.Dst)
                  .Append(" = *(").Append(LlvmSyntax.SizeName(row.Size, row.SignExtend)).Append(" *)");
                AppendAddress(sb, ins.Src, ins.Offset);
                break;
            case InstructionKind.StoreImm:
                sb.Append("*(").Append(LlvmSyntax.SizeName(row.Size)).Append(" *)");
                AppendAddress(sb, ins.Dst, ins.Offset);
                sb.Append(" = ");
                AppendSignedHex(sb, ins.Imm32);
                break;
            case InstructionKind.StoreReg:
                sb.Append("*(").Append(LlvmSyntax.SizeName(row.Size)).Append(" *)");
                AppendAddress(sb, ins.Dst, ins.Offset);
                sb.Append(" = ").Append(options.Alu32Registers && row.Size < 8 ? 'w' : 'r').Append(ins.Src);
                break;
            case InstructionKind.Atomic:
                AppendAtomic(sb, ins, row, options);
                break;
            case InstructionKind.LoadImm64:
                if (row.LoadSource == LoadImm64Source.Func && options.TargetLabels is not null
                    && (uint)((ulong)ins.Imm >> 32) == 0 && options.TargetLabels.TryGetValue(ins.JumpTarget(pc), out var function))
                {
                    sb.Append('r').Append(ins.Dst).Append(" = ").Append(function).Append(" ll");
                    break;
                }
                AppendLddw(sb, ins, row, options);
                break;
            case InstructionKind.LoadImm64High:
                sb.Append("; lddw high half 0x").Append(ins.Imm32.ToString("x", CultureInfo.InvariantCulture));
                break;
            case InstructionKind.LoadPacketAbs:
                sb.Append("r0 = *(").Append(LlvmSyntax.SizeName(row.Size)).Append(" *)skb[");
                AppendSignedHex(sb, ins.Imm32);
                sb.Append(']');
                break;
            case InstructionKind.LoadPacketInd:
                sb.Append("r0 = *(").Append(LlvmSyntax.SizeName(row.Size)).Append(" *)skb[r").Append(ins.Src);
                if (options.Lossless && ins.Imm32 != 0)
                {
                    sb.Append(ins.Imm32 < 0 ? " - " : " + ");
                    AppendHex(sb, ins.Imm32 < 0 ? (ulong)-(long)ins.Imm32 : (ulong)ins.Imm32);
                }
                sb.Append(']');
                break;
            default:
                sb.Append("<unknown>");
                break;
        }
    }

    private static string EndianName(OpInfo row) => row.Alu switch
    {
        AluOp.ToLe => "le",
        AluOp.ToBe => "be",
        _ => "bswap",
    };

    private static void AppendAlu(StringBuilder sb, in Instruction ins, OpInfo row, char width)
    {
        sb.Append(width).Append(ins.Dst);
        switch (row.Alu)
        {
            case AluOp.Neg:
                sb.Append(" = -").Append(width).Append(ins.Dst);
                return;
            case AluOp.MovSx8 or AluOp.MovSx16 or AluOp.MovSx32:
                int bits = row.Alu == AluOp.MovSx8 ? 8 : row.Alu == AluOp.MovSx16 ? 16 : 32;
                sb.Append(" = (s").Append(bits).Append(')').Append(width).Append(ins.Src);
                return;
            case AluOp.Mov:
                sb.Append(" = ");
                break;
            default:
                sb.Append(' ').Append(LlvmSyntax.AluOperator(row.Alu)).Append(' ');
                break;
        }
        if (row.RegisterSource) sb.Append(width).Append(ins.Src);
        else AppendSignedHex(sb, ins.Imm32);
    }

    private static void AppendCall(StringBuilder sb, in Instruction ins, OpInfo row, LlvmDisassemblyOptions options)
    {
        switch (row.Call)
        {
            case CallKind.Register:
                sb.Append("callx r").Append(ins.Dst);
                return;
            case CallKind.Local when options.Lossless:
                sb.Append("call pc");
                AppendSignedHex(sb, ins.Imm32, forcePlus: true);
                return;
            case CallKind.Kfunc when options.Lossless:
                sb.Append("call kfunc(");
                AppendSignedHex(sb, ins.Imm32);
                if (ins.Offset != 0)
                {
                    sb.Append(", ");
                    AppendSignedHex(sb, ins.Offset);
                }
                sb.Append(')');
                return;
            default:
                sb.Append("call ");
                AppendSignedHex(sb, ins.Imm32);
                return;
        }
    }

    private static void AppendAtomic(StringBuilder sb, in Instruction ins, OpInfo row, LlvmDisassemblyOptions options)
    {
        // 32-bit atomics take w registers; llvm-objdump without alu32 prints only the plain add (with an r register).
        bool narrow = !row.Is64;
        char reg = narrow && (options.Alu32Registers || row.Atomic != AtomicOp.Add || row.Fetch) ? 'w' : 'r';
        string size = LlvmSyntax.SizeName(row.Size);
        if (!row.Fetch)
        {
            sb.Append("lock *(").Append(size).Append(" *)");
            AppendAddress(sb, ins.Dst, ins.Offset);
            sb.Append(' ').Append(LlvmSyntax.AtomicOperator(row.Atomic)).Append(' ').Append(reg).Append(ins.Src);
            return;
        }
        string suffix = narrow ? "32_32" : "_64";
        switch (row.Atomic)
        {
            case AtomicOp.Xchg:
                sb.Append(reg).Append(ins.Src).Append(" = xchg").Append(suffix).Append("(r").Append(ins.Dst);
                AppendDisplacement(sb, ins.Offset);
                sb.Append(", ").Append(reg).Append(ins.Src).Append(')');
                return;
            case AtomicOp.CmpXchg:
                sb.Append(reg).Append("0 = cmpxchg").Append(suffix).Append("(r").Append(ins.Dst);
                AppendDisplacement(sb, ins.Offset);
                sb.Append(", ").Append(reg).Append("0, ").Append(reg).Append(ins.Src).Append(')');
                return;
            default:
                sb.Append(reg).Append(ins.Src).Append(" = ").Append(LlvmSyntax.AtomicFetchName(row.Atomic)).Append("((")
                  .Append(size).Append(" *)");
                AppendAddress(sb, ins.Dst, ins.Offset);
                sb.Append(", ").Append(reg).Append(ins.Src).Append(')');
                return;
        }
    }

    private static void AppendLddw(StringBuilder sb, in Instruction ins, OpInfo row, LlvmDisassemblyOptions options)
    {
        if (row.LoadSource == LoadImm64Source.Imm64)
        {
            sb.Append('r').Append(ins.Dst).Append(" = ");
            AppendSignedHex(sb, ins.Imm);
            sb.Append(" ll");
            return;
        }
        uint high = (uint)((ulong)ins.Imm >> 32);
        if (!options.Lossless)
        {
            // llvm-objdump prints the pseudo source and the low imm only.
            sb.Append("ld_pseudo\tr").Append(ins.Dst).Append(", ");
            AppendHex(sb, (ulong)row.LoadSource);
            sb.Append(", ");
            AppendHex(sb, (uint)ins.Imm32);
            return;
        }
        sb.Append('r').Append(ins.Dst).Append(" = ").Append(LlvmSyntax.PseudoName(row.LoadSource)).Append('(');
        AppendSignedHex(sb, ins.Imm32);
        sb.Append(')');
        if (high != 0 || row.LoadSource is LoadImm64Source.MapValue or LoadImm64Source.MapIndexValue)
        {
            sb.Append(" + ");
            AppendHex(sb, high);
        }
        sb.Append(" ll");
    }

    private static void AppendAddress(StringBuilder sb, int register, short offset)
    {
        sb.Append("(r").Append(register);
        AppendDisplacement(sb, offset);
        sb.Append(')');
    }

    private static void AppendDisplacement(StringBuilder sb, short offset)
    {
        sb.Append(offset < 0 ? " - " : " + ");
        AppendHex(sb, (ulong)Math.Abs((int)offset));
    }

    private static bool AppendLabel(StringBuilder sb, in Instruction ins, int pc, LlvmDisassemblyOptions options)
    {
        if (options.TargetLabels is null || !options.TargetLabels.TryGetValue(ins.JumpTarget(pc), out var label)) return false;
        sb.Append(label);
        return true;
    }

    private static void AppendTarget(StringBuilder sb, in Instruction ins, int pc, LlvmDisassemblyOptions options)
    {
        if (!options.AnnotateTargets || options.Symbols is not { Count: > 0 } symbols) return;
        // llvm-objdump names the nearest symbol at or below the target byte address, compared as unsigned.
        ulong target = unchecked((ulong)(((long)pc + 1 + (ins.Op == Op.Ja32 ? ins.Imm32 : ins.Offset)) * 8));
        string? best = null;
        ulong bestAddress = 0;
        foreach (var (slot, name) in symbols)
        {
            ulong address = (ulong)slot * 8;
            if (address <= target && (best is null || address > bestAddress || (address == bestAddress && string.CompareOrdinal(name, best) < 0)))
            {
                best = name;
                bestAddress = address;
            }
        }
        if (best is null) return;
        sb.Append(" <").Append(best);
        if (target != bestAddress)
        {
            sb.Append('+');
            AppendHex(sb, target - bestAddress);
        }
        sb.Append('>');
    }

    private static void AppendSignedHex(StringBuilder sb, long value, bool forcePlus = false)
    {
        if (value < 0)
        {
            sb.Append('-');
            AppendHex(sb, unchecked((ulong)-value));
        }
        else
        {
            if (forcePlus) sb.Append('+');
            AppendHex(sb, (ulong)value);
        }
    }

    private static void AppendHex(StringBuilder sb, ulong value) =>
        sb.Append("0x").Append(value.ToString("x", CultureInfo.InvariantCulture));
}
