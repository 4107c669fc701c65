using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Isa.Tests;

/// <summary>Meta-tests of the opcode table and of the decoder's use of it.</summary>
public sealed class OpcodeTableTests(ITestOutputHelper output)
{
    private static OpInfo[] AllRows => OpcodeTable.Rows.ToArray();

    public static TheoryData<Op> ExecutableOps()
    {
        var data = new TheoryData<Op>();
        foreach (var row in RandomPrograms.ExecutableRows) data.Add(row.Op);
        return data;
    }

    [Fact]
    public void Every_op_has_exactly_one_row_in_enum_order()
    {
        var ops = Enum.GetValues<Op>().Where(o => o != Op.Invalid).ToArray();
        Assert.Equal(ops.Length, AllRows.Length);
        for (int i = 0; i < ops.Length; i++)
        {
            Assert.Equal(ops[i], AllRows[i].Op);
            Assert.Same(AllRows[i], OpcodeTable.Get(ops[i]));
        }
        Assert.Equal(ops.Length, AllRows.Select(r => r.Op).Distinct().Count());
        output.WriteLine($"{ops.Length} rows");
    }

    [Fact]
    public void Every_opcode_byte_is_in_the_table_or_rejected_as_unknown()
    {
        int known = 0, unknown = 0;
        for (int b = 0; b < 256; b++)
        {
            var rows = OpcodeTable.ForOpcode((byte)b).ToArray();
            var expected = AllRows.Where(r => r.Opcode == b && r.Op != Op.LddwHigh).ToArray();
            Assert.Equal(expected, rows);
            if (rows.Length > 0) { known++; continue; }
            unknown++;
            var slots = new[] { new RawInstruction((byte)b, 0, 0, 0, 0), Exit() };
            Assert.False(Decoder.TryDecode(slots, "t", out _, out var error));
            Assert.Equal(0, error!.Index);
            Assert.Equal($"unknown opcode 0x{b:x2}", error.Message);
        }
        Assert.Equal(256, known + unknown);
        output.WriteLine($"{known} opcode bytes known, {unknown} rejected as unknown");
    }

    [Fact]
    public void Rows_sharing_an_opcode_are_told_apart_by_one_discriminator_with_distinct_values()
    {
        foreach (var group in RandomPrograms.ExecutableRows.GroupBy(r => r.Opcode).Where(g => g.Count() > 1))
        {
            Assert.Single(group.Select(r => r.Discriminator).Distinct());
            Assert.NotEqual(VariantField.None, group.First().Discriminator);
            Assert.Equal(group.Count(), group.Select(r => r.DiscriminatorValue).Distinct().Count());
        }
    }

    /// <summary>The opcode byte's class, source and size bits agree with each row's semantic fields (RFC 9669 §3, §4, §5).</summary>
    [Theory]
    [MemberData(nameof(ExecutableOps))]
    public void Opcode_bits_agree_with_the_semantic_fields(Op op)
    {
        var row = OpcodeTable.Get(op);
        var cls = (OpClass)(row.Opcode & 0x07);
        OpClass expectedClass = row.Kind switch
        {
            InstructionKind.Alu => row.Is64 ? OpClass.Alu64 : OpClass.Alu,
            InstructionKind.Endian => row.Alu == AluOp.Bswap ? OpClass.Alu64 : OpClass.Alu,
            InstructionKind.Jump or InstructionKind.CondJump => row.Is64 ? OpClass.Jmp : OpClass.Jmp32,
            InstructionKind.Call or InstructionKind.Exit => OpClass.Jmp,
            InstructionKind.Load => OpClass.Ldx,
            InstructionKind.StoreImm => OpClass.St,
            InstructionKind.StoreReg or InstructionKind.Atomic => OpClass.Stx,
            _ => OpClass.Ld,
        };
        Assert.Equal(expectedClass, cls);
        if (row.Kind is InstructionKind.Alu or InstructionKind.CondJump)
            Assert.Equal(row.RegisterSource, (row.Opcode & 0x08) != 0);   // BPF_X
        if (row.Kind is InstructionKind.Load or InstructionKind.StoreImm or InstructionKind.StoreReg or InstructionKind.Atomic
            or InstructionKind.LoadImm64 or InstructionKind.LoadPacketAbs or InstructionKind.LoadPacketInd)
        {
            int sizeBits = row.Opcode & 0x18;   // W=0x00, H=0x08, B=0x10, DW=0x18
            Assert.Equal(row.Size, sizeBits switch { 0x00 => 4, 0x08 => 2, 0x10 => 1, _ => 8 });
            int mode = row.Opcode & 0xe0;        // IMM=0x00, ABS=0x20, IND=0x40, MEM=0x60, MEMSX=0x80, ATOMIC=0xc0
            int expectedMode = row.Kind switch
            {
                InstructionKind.LoadImm64 => 0x00,
                InstructionKind.LoadPacketAbs => 0x20,
                InstructionKind.LoadPacketInd => 0x40,
                InstructionKind.Atomic => 0xc0,
                InstructionKind.Load when row.SignExtend => 0x80,
                _ => 0x60,
            };
            Assert.Equal(expectedMode, mode);
        }
    }

    [Theory]
    [MemberData(nameof(ExecutableOps))]
    public void Every_row_encodes_and_decodes_back(Op op)
    {
        var row = OpcodeTable.Get(op);
        var rng = new Random((int)op * 7919);
        Span<RawInstruction> buffer = stackalloc RawInstruction[2];
        for (int i = 0; i < 200; i++)
        {
            var ins = RandomPrograms.Fill(row, rng, 0, 0);
            int n = Encoder.Encode(ins, buffer);
            Assert.Equal(row.Width, n);
            Assert.Equal(row.Opcode, buffer[0].Opcode);
            var program = Decoder.Decode(buffer[..n]);
            Assert.Equal(ins, program[0]);
            if (n == 2) Assert.Equal(Op.LddwHigh, program[1].Op);
            Assert.Equal(RawInstruction.ToBytes(buffer[..n]).ToArray(), program.ToBytes());
        }
    }

    /// <summary>Each field rule of each row, broken at a random index: the decoder names that index.</summary>
    [Theory]
    [MemberData(nameof(ExecutableOps))]
    public void Every_field_rule_violation_is_rejected_naming_the_instruction(Op op)
    {
        var row = OpcodeTable.Get(op);
        var rng = new Random((int)op);
        int violations = 0;
        foreach (var (field, mutate) in Violations(row))
        {
            int index = rng.Next(0, 6);
            var slots = new List<RawInstruction>();
            for (int i = 0; i < index; i++) slots.Add(MovR0Zero());
            var buffer = new RawInstruction[2];
            int n = Encoder.Encode(RandomPrograms.Fill(row, rng, index, 0), buffer);
            slots.Add(mutate(buffer[0]));
            if (n == 2) slots.Add(buffer[1]);
            slots.Add(Exit());
            Assert.False(Decoder.TryDecode(slots.ToArray(), "t", out _, out var error), $"{op}: {field} violation accepted");
            Assert.Equal(index, error!.Index);
            var e = Assert.Throws<BpfDecodeException>(() => Decoder.Decode(slots.ToArray()));
            Assert.Equal(index, e.InstructionIndex);
            Assert.StartsWith($"instruction {index}: ", e.Message, StringComparison.Ordinal);
            violations++;
        }
        Assert.True(violations >= 1, $"{op} has no field rule to break");
    }

    private static IEnumerable<(string Field, Func<RawInstruction, RawInstruction> Mutate)> Violations(OpInfo row)
    {
        static RawInstruction With(RawInstruction r, byte? dst = null, byte? src = null, short? off = null, int? imm = null) =>
            new(r.Opcode, dst ?? r.Dst, src ?? r.Src, off ?? r.Offset, imm ?? r.Imm);
        // Registers: reserved ones must be 0, read ones r0-r10, written ones r0-r9.
        foreach (var (name, rule, isDst) in new[] { ("dst", row.DstRule, true), ("src", row.SrcRule, false) })
        {
            if (!isDst && row.Discriminator == VariantField.Src) continue;
            foreach (byte bad in rule switch { RegisterRule.Zero => new byte[] { 1, 10, 15 }, RegisterRule.Read => [11, 15], _ => [10, 11, 15] })
                yield return ($"{name}={bad}", r => isDst ? With(r, dst: bad) : With(r, src: bad));
        }
        if (row.OffsetRule == FieldRule.Zero)
            foreach (short bad in new short[] { 1, -1, short.MinValue })
                yield return ($"offset={bad}", r => With(r, off: bad));
        if (row.ImmRule == FieldRule.Zero)
            foreach (int bad in new[] { 1, -1, int.MinValue })
                yield return ($"imm={bad}", r => With(r, imm: bad));
        if (row.Discriminator != VariantField.None)
        {
            var used = OpcodeTable.ForOpcode(row.Opcode).ToArray().Select(r => r.DiscriminatorValue).ToHashSet();
            int[] candidates = row.Discriminator == VariantField.Src ? [7, 9, 15] : [2, 3, 7, 0x7fff, -1];
            foreach (int bad in candidates.Where(c => !used.Contains(c)))
                yield return ($"{row.Discriminator}={bad}", r => row.Discriminator switch
                {
                    VariantField.Offset => With(r, off: (short)bad),
                    VariantField.Imm => With(r, imm: bad),
                    _ => With(r, src: (byte)bad),
                });
        }
    }

    public static TheoryData<string, byte[], int, string> BadPrograms() => new()
    {
        { "goto past the end", Bytes(Ja(5), Exit()), 0, "outside the program" },
        { "goto before the start", Bytes(Exit(), Ja(-3)), 1, "outside the program" },
        { "goto the last slot + 1", Bytes(Ja(1), Exit()), 0, "outside the program" },
        { "conditional jump into the middle of an lddw", Bytes(Jeq(1), Lddw(0, 0), Lddw(1, 0), Exit()), 0, "middle of an lddw" },
        { "backward jump into the middle of an lddw", Bytes(Lddw(0, 0), Lddw(1, 0), Ja(-2), Exit()), 2, "middle of an lddw" },
        { "gotol out of range", Bytes(Ja32(100), Exit()), 0, "outside the program" },
        { "local call out of range", Bytes(CallLocal(-5), Exit()), 0, "outside the program" },
        { "local call into the middle of an lddw", Bytes(CallLocal(1), Lddw(0, 0), Lddw(1, 0), Exit()), 0, "middle of an lddw" },
        { "truncated lddw", Bytes(Exit(), Lddw(0, 0)), 1, "truncated lddw" },
        { "lddw second slot with an opcode", Bytes(Lddw(0, 0), Exit(), Exit()), 1, "second slot" },
        { "length not a multiple of 8", [.. Bytes(Exit()), 0x95, 0, 0], 1, "not a multiple of 8" },
    };

    [Theory]
    [MemberData(nameof(BadPrograms))]
    public void Structural_errors_name_the_instruction(string what, byte[] bytes, int index, string message)
    {
        var e = Assert.Throws<BpfDecodeException>(() => Decoder.Decode(bytes));
        Assert.Equal(index, e.InstructionIndex);
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
        output.WriteLine($"{what}: {e.Message}");
    }

    [Fact]
    public void Empty_program_is_rejected()
    {
        var e = Assert.Throws<BpfDecodeException>(() => Decoder.Decode(ReadOnlySpan<byte>.Empty));
        Assert.Contains("empty", e.Message, StringComparison.Ordinal);
    }

    // ---- builders from table rows (no opcode numbers) ----

    private static RawInstruction Raw(Op op, int dst = 0, int src = 0, int offset = 0, int imm = 0)
    {
        Span<RawInstruction> buffer = stackalloc RawInstruction[2];
        Encoder.Encode(new Instruction(op, (byte)dst, (byte)src, (short)offset, imm), buffer);
        return buffer[0];
    }

    private static RawInstruction Exit() => Raw(Op.Exit);
    private static RawInstruction MovR0Zero() => Raw(Op.Mov64Imm);
    private static RawInstruction Ja(int offset) => Raw(Op.Ja, offset: offset);
    private static RawInstruction Ja32(int imm) => Raw(Op.Ja32, imm: imm);
    private static RawInstruction Jeq(int offset) => Raw(Op.Jeq64Imm, dst: 1, offset: offset, imm: 3);
    private static RawInstruction CallLocal(int imm) => Raw(Op.CallLocal, imm: imm);

    /// <summary>First (<paramref name="half"/> 0) or second slot of an lddw of <paramref name="value"/> into r1.</summary>
    private static RawInstruction Lddw(int half, long value)
    {
        Span<RawInstruction> buffer = stackalloc RawInstruction[2];
        Encoder.Encode(new Instruction(Op.Lddw, 1, 0, 0, value), buffer);
        return buffer[half];
    }

    private static byte[] Bytes(params RawInstruction[] slots) => RawInstruction.ToBytes(slots).ToArray();
}
