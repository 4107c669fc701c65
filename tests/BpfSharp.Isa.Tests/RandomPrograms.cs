using BpfSharp.Isa;

namespace BpfSharp.Isa.Tests;

/// <summary>
/// Seeded generator of structurally valid programs: rows are drawn from <see cref="OpcodeTable.Rows"/> and every field
/// gets a random value its row's rule allows (registers in range, reserved fields zero, jump targets on instruction
/// starts inside the program).
/// </summary>
internal static class RandomPrograms
{
    public static OpInfo[] ExecutableRows { get; } = OpcodeTable.Rows.ToArray().Where(r => r.Op != Op.LddwHigh).ToArray();

    /// <summary>A program of <paramref name="count"/> instructions drawn from <paramref name="rows"/> (all rows when null).</summary>
    public static Instruction[] Generate(Random rng, int count, IReadOnlyList<OpInfo>? rows = null)
    {
        rows ??= ExecutableRows;
        var chosen = new OpInfo[count];
        var startSlot = new int[count];
        int slot = 0;
        for (int i = 0; i < count; i++)
        {
            chosen[i] = rows[rng.Next(rows.Count)];
            startSlot[i] = slot;
            slot += chosen[i].Width;
        }
        var result = new Instruction[count];
        for (int i = 0; i < count; i++)
        {
            int target = startSlot[rng.Next(count)];
            result[i] = Fill(chosen[i], rng, startSlot[i], target);
        }
        return result;
    }

    /// <summary>One instruction of <paramref name="row"/> at slot <paramref name="pc"/>; a jump goes to <paramref name="targetSlot"/>.</summary>
    public static Instruction Fill(OpInfo row, Random rng, int pc, int targetSlot)
    {
        byte dst = Register(row.DstRule, rng);
        byte src = row.Discriminator == VariantField.Src ? (byte)0 : Register(row.SrcRule, rng);
        short offset = row.Discriminator == VariantField.Offset ? (short)0 : row.OffsetRule == FieldRule.Any ? Offset(rng) : (short)0;
        long imm = row.Discriminator == VariantField.Imm ? 0 : row.ImmRule == FieldRule.Any ? Imm32(rng) : 0;
        if (row.Kind == InstructionKind.LoadImm64)
            imm = row.LoadSource == LoadImm64Source.Func ? 0 : Imm64(rng);
        int delta = targetSlot - (pc + 1);
        if (row.IsJumpWithOffset) offset = (short)delta;
        if (row.Op is Op.Ja32 or Op.CallLocal) imm = delta;
        if (row.Op == Op.LddwFunc) imm = (uint)delta | ((long)(rng.Next(4) == 0 ? rng.Next() : 0) << 32);
        return new Instruction(row.Op, dst, src, offset, imm);
    }

    private static byte Register(RegisterRule rule, Random rng) => rule switch
    {
        RegisterRule.Read => (byte)rng.Next(11),
        RegisterRule.Write => (byte)rng.Next(10),
        _ => 0,
    };

    private static readonly int[] EdgeInts = [0, 1, -1, 2, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, int.MaxValue, int.MinValue, -2, 16, 32, 64];

    private static short Offset(Random rng) => rng.Next(4) switch
    {
        0 => (short)rng.Next(-16, 17),
        1 => (short)EdgeInts[rng.Next(EdgeInts.Length)],
        _ => (short)rng.Next(short.MinValue, short.MaxValue + 1),
    };

    private static int Imm32(Random rng) => rng.Next(4) switch
    {
        0 => rng.Next(-300, 300),
        1 => EdgeInts[rng.Next(EdgeInts.Length)],
        _ => (int)(uint)rng.NextInt64(0, 1L << 32),
    };

    private static long Imm64(Random rng) => rng.Next(4) switch
    {
        0 => Imm32(rng),
        1 => rng.Next(3) switch { 0 => long.MinValue, 1 => long.MaxValue, _ => (long)(uint)Imm32(rng) },
        _ => rng.NextInt64(long.MinValue, long.MaxValue),
    };
}
