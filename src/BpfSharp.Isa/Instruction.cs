namespace BpfSharp.Isa;

/// <summary>
/// A decoded instruction: the variant (<see cref="Op"/>) and its operands. For lddw, <see cref="Imm"/> holds the full
/// 64-bit immediate and the following program slot holds an <see cref="Op.LddwHigh"/> placeholder.
/// </summary>
/// <param name="Op">The instruction variant.</param>
/// <param name="Dst">Destination register number (0-10).</param>
/// <param name="Src">Source register number (0-10); 0 where the field is reserved or a discriminator.</param>
/// <param name="Offset">Signed 16-bit offset (memory displacement or jump offset); 0 where it is a discriminator.</param>
/// <param name="Imm">Immediate: sign-extended 32-bit imm, or the 64-bit constant of lddw.</param>
public readonly record struct Instruction(Op Op, byte Dst, byte Src, short Offset, long Imm)
{
    /// <summary>The opcode table row of this instruction.</summary>
    public OpInfo Info => OpcodeTable.Get(Op);

    /// <summary>Number of 8-byte slots the instruction occupies.</summary>
    public int Width => Op is >= Op.Lddw and <= Op.LddwMapIndexValue ? 2 : 1;

    /// <summary>The 32-bit imm field as encoded (the low half for lddw).</summary>
    public int Imm32 => unchecked((int)Imm);

    /// <summary>Whether the instruction refers to another instruction (jump, local call, function reference).</summary>
    public bool HasTarget => Op is Op.Ja32 or Op.CallLocal or Op.LddwFunc || Info.IsJumpWithOffset;

    /// <summary>The slot a jump, local call or function reference at <paramref name="pc"/> refers to; -1 when <see cref="HasTarget"/> is false.</summary>
    public int JumpTarget(int pc) => Op switch
    {
        Op.Ja32 => pc + 1 + Imm32,
        Op.CallLocal or Op.LddwFunc => pc + 1 + Imm32,
        _ when Info.IsJumpWithOffset => pc + 1 + Offset,
        _ => -1,
    };

    /// <summary>Builds an instruction with an immediate operand.</summary>
    public static Instruction WithImm(Op op, int dst, long imm, short offset = 0) => new(op, (byte)dst, 0, offset, imm);

    /// <summary>Builds an instruction with a register operand.</summary>
    public static Instruction WithReg(Op op, int dst, int src, short offset = 0) => new(op, (byte)dst, (byte)src, offset, 0);
}
