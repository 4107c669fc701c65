namespace BpfSharp.Isa;

/// <summary>
/// Decodes and structurally validates bytecode with the opcode table: every slot is either part of a valid program
/// or reported as a <see cref="DecodeError"/> naming its index. Semantic safety is the verifier's job; this checks
/// only what any engine needs (known opcodes, reserved fields zero, registers in range, jumps inside the program and
/// not into the middle of an lddw).
/// </summary>
public static class Decoder
{
    /// <summary>Registers r0-r10 exist; r10 is the read-only frame pointer.</summary>
    public const int RegisterCount = 11;

    /// <summary>Decodes little-endian bytes; throws <see cref="BpfDecodeException"/> on the first error.</summary>
    public static BpfProgram Decode(ReadOnlySpan<byte> bytes, string name = "prog")
    {
        if (bytes.Length % RawInstruction.Size != 0)
            throw new BpfDecodeException(new DecodeError(bytes.Length / RawInstruction.Size,
                $"truncated instruction: program length {bytes.Length} is not a multiple of 8 bytes"));
        return Decode(RawInstruction.FromBytes(bytes), name);
    }

    /// <summary>Decodes slots; throws <see cref="BpfDecodeException"/> on the first error.</summary>
    public static BpfProgram Decode(ReadOnlySpan<RawInstruction> slots, string name = "prog")
    {
        if (TryDecode(slots, name, out var program, out var error)) return program!;
        throw new BpfDecodeException(error!);
    }

    /// <summary>Decodes slots without throwing.</summary>
    public static bool TryDecode(ReadOnlySpan<RawInstruction> slots, string name, out BpfProgram? program, out DecodeError? error)
    {
        program = null;
        if (slots.Length == 0)
        {
            error = new DecodeError(-1, "program is empty");
            return false;
        }
        var decoded = new Instruction[slots.Length];
        for (int pc = 0; pc < slots.Length; pc++)
        {
            var row = Lookup(slots[pc], pc, out error);
            if (row is null) return false;
            if (!CheckFields(slots[pc], row, pc, out error)) return false;
            if (row.Width == 2)
            {
                if (pc + 1 >= slots.Length)
                {
                    error = new DecodeError(pc, "truncated lddw: the second slot is missing");
                    return false;
                }
                var high = slots[pc + 1];
                if (high.Opcode != 0 || high.Dst != 0 || high.Src != 0 || high.Offset != 0)
                {
                    error = new DecodeError(pc + 1, "invalid lddw second slot: opcode, registers and offset must be 0");
                    return false;
                }
                long imm64 = (uint)slots[pc].Imm | ((long)high.Imm << 32);
                decoded[pc] = new Instruction(row.Op, slots[pc].Dst, SrcOf(slots[pc], row), 0, imm64);
                decoded[pc + 1] = new Instruction(Op.LddwHigh, 0, 0, 0, high.Imm);
                pc++;
                continue;
            }
            decoded[pc] = new Instruction(row.Op, slots[pc].Dst, SrcOf(slots[pc], row),
                row.Discriminator == VariantField.Offset ? (short)0 : slots[pc].Offset,
                row.Discriminator == VariantField.Imm ? 0 : slots[pc].Imm);
        }

        var functionStarts = new SortedSet<int> { 0 };
        for (int pc = 0; pc < decoded.Length; pc++)
        {
            if (!decoded[pc].HasTarget) continue;
            int target = decoded[pc].JumpTarget(pc);
            if (target < 0 || target >= decoded.Length)
            {
                error = new DecodeError(pc, $"{Describe(decoded[pc].Op)} target {target} is outside the program (0..{decoded.Length - 1})");
                return false;
            }
            if (decoded[target].Op == Op.LddwHigh)
            {
                error = new DecodeError(pc, $"{Describe(decoded[pc].Op)} target {target} is the middle of an lddw");
                return false;
            }
            if (decoded[pc].Op is Op.CallLocal or Op.LddwFunc) functionStarts.Add(target);
        }
        program = new BpfProgram(decoded, slots.ToArray(), [.. functionStarts], name);
        error = null;
        return true;
    }

    private static string Describe(Op op) => op switch
    {
        Op.CallLocal => "local call",
        Op.LddwFunc => "function reference",
        _ => "jump",
    };

    private static byte SrcOf(RawInstruction raw, OpInfo row) => row.Discriminator == VariantField.Src ? (byte)0 : raw.Src;

    private static OpInfo? Lookup(RawInstruction raw, int pc, out DecodeError? error)
    {
        var rows = OpcodeTable.ForOpcode(raw.Opcode);
        error = null;
        if (rows.Length == 0)
        {
            error = new DecodeError(pc, $"unknown opcode 0x{raw.Opcode:x2}");
            return null;
        }
        foreach (var row in rows)
        {
            int actual = row.Discriminator switch
            {
                VariantField.Offset => raw.Offset,
                VariantField.Imm => raw.Imm,
                VariantField.Src => raw.Src,
                _ => 0,
            };
            if (row.Discriminator == VariantField.None || actual == row.DiscriminatorValue) return row;
        }
        var first = rows[0];
        error = first.Discriminator switch
        {
            VariantField.Offset => new DecodeError(pc, $"invalid offset {raw.Offset} for {first.Mnemonic} (opcode 0x{raw.Opcode:x2})"),
            VariantField.Imm => new DecodeError(pc, $"invalid imm {raw.Imm} (0x{raw.Imm:x}) for opcode 0x{raw.Opcode:x2} ({first.Mnemonic})"),
            _ => new DecodeError(pc, $"invalid src field {raw.Src} for opcode 0x{raw.Opcode:x2} ({first.Mnemonic})"),
        };
        return null;
    }

    private static bool CheckFields(RawInstruction raw, OpInfo row, int pc, out DecodeError? error)
    {
        error = CheckRegister(raw.Dst, row.DstRule, "dst", row, pc)
            ?? (row.Discriminator == VariantField.Src ? null : CheckRegister(raw.Src, row.SrcRule, "src", row, pc));
        if (error is not null) return false;
        if (row.OffsetRule == FieldRule.Zero && raw.Offset != 0)
            error = new DecodeError(pc, $"reserved offset field is {raw.Offset}, must be 0 for {row.Mnemonic} (opcode 0x{raw.Opcode:x2})");
        else if (row.ImmRule == FieldRule.Zero && raw.Imm != 0)
            error = new DecodeError(pc, $"reserved imm field is {raw.Imm}, must be 0 for {row.Mnemonic} (opcode 0x{raw.Opcode:x2})");
        return error is null;
    }

    private static DecodeError? CheckRegister(byte reg, RegisterRule rule, string field, OpInfo row, int pc) => rule switch
    {
        RegisterRule.Zero when reg != 0 =>
            new DecodeError(pc, $"reserved {field} field is {reg}, must be 0 for {row.Mnemonic} (opcode 0x{row.Opcode:x2})"),
        RegisterRule.Read when reg >= RegisterCount => new DecodeError(pc, $"invalid {field} register r{reg}"),
        RegisterRule.Write when reg >= RegisterCount => new DecodeError(pc, $"invalid {field} register r{reg}"),
        RegisterRule.Write when reg == 10 => new DecodeError(pc, $"{row.Mnemonic} writes r10, the read-only frame pointer"),
        _ => null,
    };
}
