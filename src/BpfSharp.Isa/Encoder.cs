namespace BpfSharp.Isa;

/// <summary>Turns decoded instructions back into wire slots, using the opcode table's discriminators.</summary>
public static class Encoder
{
    /// <summary>Encodes one instruction into <paramref name="destination"/>; returns the number of slots written (1 or 2).</summary>
    public static int Encode(in Instruction instruction, Span<RawInstruction> destination)
    {
        var row = OpcodeTable.Get(instruction.Op);
        if (row.Op == Op.Invalid) throw new ArgumentException("cannot encode an invalid instruction", nameof(instruction));
        byte src = instruction.Src;
        short offset = instruction.Offset;
        int imm = instruction.Imm32;
        switch (row.Discriminator)
        {
            case VariantField.Src: src = (byte)row.DiscriminatorValue; break;
            case VariantField.Offset: offset = (short)row.DiscriminatorValue; break;
            case VariantField.Imm: imm = row.DiscriminatorValue; break;
        }
        if (row.Op == Op.LddwHigh)
        {
            destination[0] = new RawInstruction(0, 0, 0, 0, imm);
            return 1;
        }
        destination[0] = new RawInstruction(row.Opcode, instruction.Dst, src, offset, imm);
        if (row.Width == 1) return 1;
        destination[1] = new RawInstruction(0, 0, 0, 0, unchecked((int)(instruction.Imm >> 32)));
        return 2;
    }

    /// <summary>Encodes a sequence of instructions (skipping lddw placeholders) into bytes.</summary>
    public static byte[] ToBytes(ReadOnlySpan<Instruction> instructions)
    {
        var raw = new List<RawInstruction>(instructions.Length + 4);
        Span<RawInstruction> two = stackalloc RawInstruction[2];
        foreach (ref readonly var ins in instructions)
        {
            if (ins.Op == Op.LddwHigh) continue;
            int n = Encode(ins, two);
            for (int i = 0; i < n; i++) raw.Add(two[i]);
        }
        return RawInstruction.ToBytes(raw.ToArray()).ToArray();
    }
}
