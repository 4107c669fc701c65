namespace BpfSharp.Isa;

/// <summary>What an instruction does, at the level engines and the verifier dispatch on.</summary>
public enum InstructionKind : byte
{
    /// <summary>Not a valid instruction.</summary>
    Invalid,
    /// <summary>Arithmetic or logic on a register (ALU, ALU64 classes).</summary>
    Alu,
    /// <summary>Byte order conversion (le, be, bswap).</summary>
    Endian,
    /// <summary>Unconditional jump (ja, gotol).</summary>
    Jump,
    /// <summary>Conditional jump.</summary>
    CondJump,
    /// <summary>Call of a helper, local function, kfunc, or helper by register.</summary>
    Call,
    /// <summary>Return from the current function.</summary>
    Exit,
    /// <summary>Load from memory into a register (LDX MEM / MEMSX).</summary>
    Load,
    /// <summary>Store of an immediate (ST MEM).</summary>
    StoreImm,
    /// <summary>Store of a register (STX MEM).</summary>
    StoreReg,
    /// <summary>Atomic read-modify-write (STX ATOMIC).</summary>
    Atomic,
    /// <summary>64-bit immediate load, first slot (lddw and its pseudo sources).</summary>
    LoadImm64,
    /// <summary>Second slot of lddw; never executed.</summary>
    LoadImm64High,
    /// <summary>Legacy packet load at an absolute offset (LD ABS).</summary>
    LoadPacketAbs,
    /// <summary>Legacy packet load at a register-relative offset (LD IND).</summary>
    LoadPacketInd,
}

/// <summary>Arithmetic operation of an ALU instruction, with the offset-encoded variants split out.</summary>
public enum AluOp : byte
{
    /// <summary>dst += src</summary>
    Add,
    /// <summary>dst -= src</summary>
    Sub,
    /// <summary>dst *= src</summary>
    Mul,
    /// <summary>Unsigned division; division by zero gives 0.</summary>
    Div,
    /// <summary>Signed division (offset 1); division by zero gives 0.</summary>
    SDiv,
    /// <summary>dst |= src</summary>
    Or,
    /// <summary>dst &amp;= src</summary>
    And,
    /// <summary>Left shift, amount masked to the width.</summary>
    Lsh,
    /// <summary>Logical right shift, amount masked to the width.</summary>
    Rsh,
    /// <summary>dst = -dst</summary>
    Neg,
    /// <summary>Unsigned modulo; modulo by zero leaves dst.</summary>
    Mod,
    /// <summary>Signed modulo (offset 1); modulo by zero leaves dst.</summary>
    SMod,
    /// <summary>dst ^= src</summary>
    Xor,
    /// <summary>dst = src</summary>
    Mov,
    /// <summary>dst = sign-extended low 8 bits of src.</summary>
    MovSx8,
    /// <summary>dst = sign-extended low 16 bits of src.</summary>
    MovSx16,
    /// <summary>dst = sign-extended low 32 bits of src.</summary>
    MovSx32,
    /// <summary>Arithmetic right shift, amount masked to the width.</summary>
    Arsh,
    /// <summary>Convert from host (little-endian) order: truncates to imm bits.</summary>
    ToLe,
    /// <summary>Convert to big-endian: byte swap of the low imm bits.</summary>
    ToBe,
    /// <summary>Unconditional byte swap of the low imm bits (ALU64 END).</summary>
    Bswap,
}

/// <summary>Condition of a conditional jump.</summary>
public enum JumpCondition : byte
{
    /// <summary>Not a conditional jump.</summary>
    None,
    /// <summary>==</summary>
    Eq,
    /// <summary>unsigned &gt;</summary>
    Gt,
    /// <summary>unsigned &gt;=</summary>
    Ge,
    /// <summary>dst &amp; src != 0</summary>
    Set,
    /// <summary>!=</summary>
    Ne,
    /// <summary>signed &gt;</summary>
    Sgt,
    /// <summary>signed &gt;=</summary>
    Sge,
    /// <summary>unsigned &lt;</summary>
    Lt,
    /// <summary>unsigned &lt;=</summary>
    Le,
    /// <summary>signed &lt;</summary>
    Slt,
    /// <summary>signed &lt;=</summary>
    Sle,
}

/// <summary>Operation of an atomic instruction (the imm field with the FETCH bit split out).</summary>
public enum AtomicOp : byte
{
    /// <summary>Not an atomic.</summary>
    None,
    /// <summary>*ptr += src</summary>
    Add,
    /// <summary>*ptr |= src</summary>
    Or,
    /// <summary>*ptr &amp;= src</summary>
    And,
    /// <summary>*ptr ^= src</summary>
    Xor,
    /// <summary>Exchange: src = old, *ptr = src (always fetches).</summary>
    Xchg,
    /// <summary>Compare-exchange against r0: r0 = old (always fetches).</summary>
    CmpXchg,
}

/// <summary>What a call instruction calls.</summary>
public enum CallKind : byte
{
    /// <summary>Not a call.</summary>
    None,
    /// <summary>Helper function by static id in imm (src 0).</summary>
    Helper,
    /// <summary>Local (bpf-to-bpf) function at pc + 1 + imm (src 1).</summary>
    Local,
    /// <summary>Kernel function by BTF id in imm (src 2).</summary>
    Kfunc,
    /// <summary>Helper whose id is held in the dst register (callx).</summary>
    Register,
}

/// <summary>The src field of lddw: how the 64-bit immediate is to be interpreted (the kernel's BPF_PSEUDO_*).</summary>
public enum LoadImm64Source : byte
{
    /// <summary>Plain 64-bit constant.</summary>
    Imm64 = 0,
    /// <summary>BPF_PSEUDO_MAP_FD: imm is a map file descriptor; loads a map pointer.</summary>
    MapFd = 1,
    /// <summary>BPF_PSEUDO_MAP_VALUE: imm is a map fd, next imm an offset; loads a pointer into the map's value.</summary>
    MapValue = 2,
    /// <summary>BPF_PSEUDO_BTF_ID: imm is a BTF id of a kernel variable.</summary>
    BtfId = 3,
    /// <summary>BPF_PSEUDO_FUNC: imm is a relative instruction offset of a function; loads its address.</summary>
    Func = 4,
    /// <summary>BPF_PSEUDO_MAP_IDX: imm is an index into the program's map array.</summary>
    MapIndex = 5,
    /// <summary>BPF_PSEUDO_MAP_IDX_VALUE: like MapValue but by map index.</summary>
    MapIndexValue = 6,
}

/// <summary>What a register field may hold for an instruction, as the validator enforces it.</summary>
public enum RegisterRule : byte
{
    /// <summary>The field is reserved and must be zero.</summary>
    Zero,
    /// <summary>Any register r0-r10 that is read.</summary>
    Read,
    /// <summary>A register r0-r9 that is written (r10, the frame pointer, is read-only).</summary>
    Write,
}

/// <summary>What a numeric field (offset or imm) may hold for an instruction.</summary>
public enum FieldRule : byte
{
    /// <summary>The field is reserved and must be zero.</summary>
    Zero,
    /// <summary>Any value.</summary>
    Any,
    /// <summary>The field selects the variant and must equal the row's discriminator.</summary>
    Discriminator,
}
