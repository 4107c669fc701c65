// One member per row of OpcodeTable.Rows, in the same order (a meta-test checks this); edit both together.
namespace BpfSharp.Isa;

/// <summary>
/// Every eBPF instruction variant, dense and numbered in table order: the wire opcode plus, where the wire format hides
/// a variant in the offset, imm or src field (sdiv, movsx, atomics, call kinds, lddw sources), that variant.
/// The decoder is the only code that reads those fields to choose an <see cref="Op"/>; see <see cref="OpcodeTable"/>.
/// </summary>
public enum Op : byte
{
    /// <summary>Not a valid instruction.</summary>
    Invalid = 0,
    /// <summary>add (opcode 0x07)</summary>
    Add64Imm = 1,
    /// <summary>add (opcode 0x0f)</summary>
    Add64Reg = 2,
    /// <summary>sub (opcode 0x17)</summary>
    Sub64Imm = 3,
    /// <summary>sub (opcode 0x1f)</summary>
    Sub64Reg = 4,
    /// <summary>mul (opcode 0x27)</summary>
    Mul64Imm = 5,
    /// <summary>mul (opcode 0x2f)</summary>
    Mul64Reg = 6,
    /// <summary>div (opcode 0x37, offset 0)</summary>
    Div64Imm = 7,
    /// <summary>sdiv (opcode 0x37, offset 1)</summary>
    SDiv64Imm = 8,
    /// <summary>div (opcode 0x3f, offset 0)</summary>
    Div64Reg = 9,
    /// <summary>sdiv (opcode 0x3f, offset 1)</summary>
    SDiv64Reg = 10,
    /// <summary>or (opcode 0x47)</summary>
    Or64Imm = 11,
    /// <summary>or (opcode 0x4f)</summary>
    Or64Reg = 12,
    /// <summary>and (opcode 0x57)</summary>
    And64Imm = 13,
    /// <summary>and (opcode 0x5f)</summary>
    And64Reg = 14,
    /// <summary>lsh (opcode 0x67)</summary>
    Lsh64Imm = 15,
    /// <summary>lsh (opcode 0x6f)</summary>
    Lsh64Reg = 16,
    /// <summary>rsh (opcode 0x77)</summary>
    Rsh64Imm = 17,
    /// <summary>rsh (opcode 0x7f)</summary>
    Rsh64Reg = 18,
    /// <summary>mod (opcode 0x97, offset 0)</summary>
    Mod64Imm = 19,
    /// <summary>smod (opcode 0x97, offset 1)</summary>
    SMod64Imm = 20,
    /// <summary>mod (opcode 0x9f, offset 0)</summary>
    Mod64Reg = 21,
    /// <summary>smod (opcode 0x9f, offset 1)</summary>
    SMod64Reg = 22,
    /// <summary>xor (opcode 0xa7)</summary>
    Xor64Imm = 23,
    /// <summary>xor (opcode 0xaf)</summary>
    Xor64Reg = 24,
    /// <summary>mov (opcode 0xb7, offset 0)</summary>
    Mov64Imm = 25,
    /// <summary>mov (opcode 0xbf, offset 0)</summary>
    Mov64Reg = 26,
    /// <summary>arsh (opcode 0xc7)</summary>
    Arsh64Imm = 27,
    /// <summary>arsh (opcode 0xcf)</summary>
    Arsh64Reg = 28,
    /// <summary>neg (opcode 0x87)</summary>
    Neg64 = 29,
    /// <summary>movsx864 (opcode 0xbf, offset 8)</summary>
    MovSx8To64 = 30,
    /// <summary>movsx1664 (opcode 0xbf, offset 16)</summary>
    MovSx16To64 = 31,
    /// <summary>movsx3264 (opcode 0xbf, offset 32)</summary>
    MovSx32To64 = 32,
    /// <summary>add32 (opcode 0x04)</summary>
    Add32Imm = 33,
    /// <summary>add32 (opcode 0x0c)</summary>
    Add32Reg = 34,
    /// <summary>sub32 (opcode 0x14)</summary>
    Sub32Imm = 35,
    /// <summary>sub32 (opcode 0x1c)</summary>
    Sub32Reg = 36,
    /// <summary>mul32 (opcode 0x24)</summary>
    Mul32Imm = 37,
    /// <summary>mul32 (opcode 0x2c)</summary>
    Mul32Reg = 38,
    /// <summary>div32 (opcode 0x34, offset 0)</summary>
    Div32Imm = 39,
    /// <summary>sdiv32 (opcode 0x34, offset 1)</summary>
    SDiv32Imm = 40,
    /// <summary>div32 (opcode 0x3c, offset 0)</summary>
    Div32Reg = 41,
    /// <summary>sdiv32 (opcode 0x3c, offset 1)</summary>
    SDiv32Reg = 42,
    /// <summary>or32 (opcode 0x44)</summary>
    Or32Imm = 43,
    /// <summary>or32 (opcode 0x4c)</summary>
    Or32Reg = 44,
    /// <summary>and32 (opcode 0x54)</summary>
    And32Imm = 45,
    /// <summary>and32 (opcode 0x5c)</summary>
    And32Reg = 46,
    /// <summary>lsh32 (opcode 0x64)</summary>
    Lsh32Imm = 47,
    /// <summary>lsh32 (opcode 0x6c)</summary>
    Lsh32Reg = 48,
    /// <summary>rsh32 (opcode 0x74)</summary>
    Rsh32Imm = 49,
    /// <summary>rsh32 (opcode 0x7c)</summary>
    Rsh32Reg = 50,
    /// <summary>mod32 (opcode 0x94, offset 0)</summary>
    Mod32Imm = 51,
    /// <summary>smod32 (opcode 0x94, offset 1)</summary>
    SMod32Imm = 52,
    /// <summary>mod32 (opcode 0x9c, offset 0)</summary>
    Mod32Reg = 53,
    /// <summary>smod32 (opcode 0x9c, offset 1)</summary>
    SMod32Reg = 54,
    /// <summary>xor32 (opcode 0xa4)</summary>
    Xor32Imm = 55,
    /// <summary>xor32 (opcode 0xac)</summary>
    Xor32Reg = 56,
    /// <summary>mov32 (opcode 0xb4, offset 0)</summary>
    Mov32Imm = 57,
    /// <summary>mov32 (opcode 0xbc, offset 0)</summary>
    Mov32Reg = 58,
    /// <summary>arsh32 (opcode 0xc4)</summary>
    Arsh32Imm = 59,
    /// <summary>arsh32 (opcode 0xcc)</summary>
    Arsh32Reg = 60,
    /// <summary>neg32 (opcode 0x84)</summary>
    Neg32 = 61,
    /// <summary>movsx832 (opcode 0xbc, offset 8)</summary>
    MovSx8To32 = 62,
    /// <summary>movsx1632 (opcode 0xbc, offset 16)</summary>
    MovSx16To32 = 63,
    /// <summary>le16 (opcode 0xd4, imm 16)</summary>
    Le16 = 64,
    /// <summary>le32 (opcode 0xd4, imm 32)</summary>
    Le32 = 65,
    /// <summary>le64 (opcode 0xd4, imm 64)</summary>
    Le64 = 66,
    /// <summary>be16 (opcode 0xdc, imm 16)</summary>
    Be16 = 67,
    /// <summary>be32 (opcode 0xdc, imm 32)</summary>
    Be32 = 68,
    /// <summary>be64 (opcode 0xdc, imm 64)</summary>
    Be64 = 69,
    /// <summary>bswap16 (opcode 0xd7, imm 16)</summary>
    Bswap16 = 70,
    /// <summary>bswap32 (opcode 0xd7, imm 32)</summary>
    Bswap32 = 71,
    /// <summary>bswap64 (opcode 0xd7, imm 64)</summary>
    Bswap64 = 72,
    /// <summary>ja (opcode 0x05)</summary>
    Ja = 73,
    /// <summary>jeq (opcode 0x15)</summary>
    Jeq64Imm = 74,
    /// <summary>jeq (opcode 0x1d)</summary>
    Jeq64Reg = 75,
    /// <summary>jgt (opcode 0x25)</summary>
    Jgt64Imm = 76,
    /// <summary>jgt (opcode 0x2d)</summary>
    Jgt64Reg = 77,
    /// <summary>jge (opcode 0x35)</summary>
    Jge64Imm = 78,
    /// <summary>jge (opcode 0x3d)</summary>
    Jge64Reg = 79,
    /// <summary>jset (opcode 0x45)</summary>
    Jset64Imm = 80,
    /// <summary>jset (opcode 0x4d)</summary>
    Jset64Reg = 81,
    /// <summary>jne (opcode 0x55)</summary>
    Jne64Imm = 82,
    /// <summary>jne (opcode 0x5d)</summary>
    Jne64Reg = 83,
    /// <summary>jsgt (opcode 0x65)</summary>
    Jsgt64Imm = 84,
    /// <summary>jsgt (opcode 0x6d)</summary>
    Jsgt64Reg = 85,
    /// <summary>jsge (opcode 0x75)</summary>
    Jsge64Imm = 86,
    /// <summary>jsge (opcode 0x7d)</summary>
    Jsge64Reg = 87,
    /// <summary>jlt (opcode 0xa5)</summary>
    Jlt64Imm = 88,
    /// <summary>jlt (opcode 0xad)</summary>
    Jlt64Reg = 89,
    /// <summary>jle (opcode 0xb5)</summary>
    Jle64Imm = 90,
    /// <summary>jle (opcode 0xbd)</summary>
    Jle64Reg = 91,
    /// <summary>jslt (opcode 0xc5)</summary>
    Jslt64Imm = 92,
    /// <summary>jslt (opcode 0xcd)</summary>
    Jslt64Reg = 93,
    /// <summary>jsle (opcode 0xd5)</summary>
    Jsle64Imm = 94,
    /// <summary>jsle (opcode 0xdd)</summary>
    Jsle64Reg = 95,
    /// <summary>jeq32 (opcode 0x16)</summary>
    Jeq32Imm = 96,
    /// <summary>jeq32 (opcode 0x1e)</summary>
    Jeq32Reg = 97,
    /// <summary>jgt32 (opcode 0x26)</summary>
    Jgt32Imm = 98,
    /// <summary>jgt32 (opcode 0x2e)</summary>
    Jgt32Reg = 99,
    /// <summary>jge32 (opcode 0x36)</summary>
    Jge32Imm = 100,
    /// <summary>jge32 (opcode 0x3e)</summary>
    Jge32Reg = 101,
    /// <summary>jset32 (opcode 0x46)</summary>
    Jset32Imm = 102,
    /// <summary>jset32 (opcode 0x4e)</summary>
    Jset32Reg = 103,
    /// <summary>jne32 (opcode 0x56)</summary>
    Jne32Imm = 104,
    /// <summary>jne32 (opcode 0x5e)</summary>
    Jne32Reg = 105,
    /// <summary>jsgt32 (opcode 0x66)</summary>
    Jsgt32Imm = 106,
    /// <summary>jsgt32 (opcode 0x6e)</summary>
    Jsgt32Reg = 107,
    /// <summary>jsge32 (opcode 0x76)</summary>
    Jsge32Imm = 108,
    /// <summary>jsge32 (opcode 0x7e)</summary>
    Jsge32Reg = 109,
    /// <summary>jlt32 (opcode 0xa6)</summary>
    Jlt32Imm = 110,
    /// <summary>jlt32 (opcode 0xae)</summary>
    Jlt32Reg = 111,
    /// <summary>jle32 (opcode 0xb6)</summary>
    Jle32Imm = 112,
    /// <summary>jle32 (opcode 0xbe)</summary>
    Jle32Reg = 113,
    /// <summary>jslt32 (opcode 0xc6)</summary>
    Jslt32Imm = 114,
    /// <summary>jslt32 (opcode 0xce)</summary>
    Jslt32Reg = 115,
    /// <summary>jsle32 (opcode 0xd6)</summary>
    Jsle32Imm = 116,
    /// <summary>jsle32 (opcode 0xde)</summary>
    Jsle32Reg = 117,
    /// <summary>ja32 (opcode 0x06)</summary>
    Ja32 = 118,
    /// <summary>call (opcode 0x85, src 0)</summary>
    Call = 119,
    /// <summary>call local (opcode 0x85, src 1)</summary>
    CallLocal = 120,
    /// <summary>call kfunc (opcode 0x85, src 2)</summary>
    CallKfunc = 121,
    /// <summary>callx (opcode 0x8d)</summary>
    Callx = 122,
    /// <summary>exit (opcode 0x95)</summary>
    Exit = 123,
    /// <summary>ldxw (opcode 0x61)</summary>
    Ldxw = 124,
    /// <summary>ldxh (opcode 0x69)</summary>
    Ldxh = 125,
    /// <summary>ldxb (opcode 0x71)</summary>
    Ldxb = 126,
    /// <summary>ldxdw (opcode 0x79)</summary>
    Ldxdw = 127,
    /// <summary>ldxsw (opcode 0x81)</summary>
    Ldxsw = 128,
    /// <summary>ldxsh (opcode 0x89)</summary>
    Ldxsh = 129,
    /// <summary>ldxsb (opcode 0x91)</summary>
    Ldxsb = 130,
    /// <summary>stw (opcode 0x62)</summary>
    Stw = 131,
    /// <summary>sth (opcode 0x6a)</summary>
    Sth = 132,
    /// <summary>stb (opcode 0x72)</summary>
    Stb = 133,
    /// <summary>stdw (opcode 0x7a)</summary>
    Stdw = 134,
    /// <summary>stxw (opcode 0x63)</summary>
    Stxw = 135,
    /// <summary>stxh (opcode 0x6b)</summary>
    Stxh = 136,
    /// <summary>stxb (opcode 0x73)</summary>
    Stxb = 137,
    /// <summary>stxdw (opcode 0x7b)</summary>
    Stxdw = 138,
    /// <summary>lock add32 (opcode 0xc3, imm 0)</summary>
    AtomicAdd32 = 139,
    /// <summary>lock or32 (opcode 0xc3, imm 64)</summary>
    AtomicOr32 = 140,
    /// <summary>lock and32 (opcode 0xc3, imm 80)</summary>
    AtomicAnd32 = 141,
    /// <summary>lock xor32 (opcode 0xc3, imm 160)</summary>
    AtomicXor32 = 142,
    /// <summary>lock fetch add32 (opcode 0xc3, imm 1)</summary>
    AtomicFetchAdd32 = 143,
    /// <summary>lock fetch or32 (opcode 0xc3, imm 65)</summary>
    AtomicFetchOr32 = 144,
    /// <summary>lock fetch and32 (opcode 0xc3, imm 81)</summary>
    AtomicFetchAnd32 = 145,
    /// <summary>lock fetch xor32 (opcode 0xc3, imm 161)</summary>
    AtomicFetchXor32 = 146,
    /// <summary>lock xchg32 (opcode 0xc3, imm 225)</summary>
    AtomicXchg32 = 147,
    /// <summary>lock cmpxchg32 (opcode 0xc3, imm 241)</summary>
    AtomicCmpXchg32 = 148,
    /// <summary>lock add (opcode 0xdb, imm 0)</summary>
    AtomicAdd64 = 149,
    /// <summary>lock or (opcode 0xdb, imm 64)</summary>
    AtomicOr64 = 150,
    /// <summary>lock and (opcode 0xdb, imm 80)</summary>
    AtomicAnd64 = 151,
    /// <summary>lock xor (opcode 0xdb, imm 160)</summary>
    AtomicXor64 = 152,
    /// <summary>lock fetch add (opcode 0xdb, imm 1)</summary>
    AtomicFetchAdd64 = 153,
    /// <summary>lock fetch or (opcode 0xdb, imm 65)</summary>
    AtomicFetchOr64 = 154,
    /// <summary>lock fetch and (opcode 0xdb, imm 81)</summary>
    AtomicFetchAnd64 = 155,
    /// <summary>lock fetch xor (opcode 0xdb, imm 161)</summary>
    AtomicFetchXor64 = 156,
    /// <summary>lock xchg (opcode 0xdb, imm 225)</summary>
    AtomicXchg64 = 157,
    /// <summary>lock cmpxchg (opcode 0xdb, imm 241)</summary>
    AtomicCmpXchg64 = 158,
    /// <summary>lddw (opcode 0x18, src 0)</summary>
    Lddw = 159,
    /// <summary>lddw (opcode 0x18, src 1)</summary>
    LddwMapFd = 160,
    /// <summary>lddw (opcode 0x18, src 2)</summary>
    LddwMapValue = 161,
    /// <summary>lddw (opcode 0x18, src 3)</summary>
    LddwBtfId = 162,
    /// <summary>lddw (opcode 0x18, src 4)</summary>
    LddwFunc = 163,
    /// <summary>lddw (opcode 0x18, src 5)</summary>
    LddwMapIndex = 164,
    /// <summary>lddw (opcode 0x18, src 6)</summary>
    LddwMapIndexValue = 165,
    /// <summary>(lddw high) (opcode 0x00)</summary>
    LddwHigh = 166,
    /// <summary>ldabsw (opcode 0x20)</summary>
    LdAbsW = 167,
    /// <summary>ldabsh (opcode 0x28)</summary>
    LdAbsH = 168,
    /// <summary>ldabsb (opcode 0x30)</summary>
    LdAbsB = 169,
    /// <summary>ldindw (opcode 0x40)</summary>
    LdIndW = 170,
    /// <summary>ldindh (opcode 0x48)</summary>
    LdIndH = 171,
    /// <summary>ldindb (opcode 0x50)</summary>
    LdIndB = 172,
}
