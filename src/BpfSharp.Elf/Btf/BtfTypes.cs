namespace BpfSharp.Elf.Btf;

/// <summary>BTF type kinds (the <c>kind</c> bits of <c>btf_type.info</c>), numbered as in the kernel's <c>btf.h</c>.</summary>
public enum BtfKind : byte
{
    /// <summary>The implicit type 0.</summary>
    Void = 0,
    /// <summary>Integer.</summary>
    Int = 1,
    /// <summary>Pointer.</summary>
    Pointer = 2,
    /// <summary>Array.</summary>
    Array = 3,
    /// <summary>Structure.</summary>
    Struct = 4,
    /// <summary>Union.</summary>
    Union = 5,
    /// <summary>Enumeration with 32-bit values.</summary>
    Enum = 6,
    /// <summary>Forward declaration.</summary>
    Forward = 7,
    /// <summary>Typedef.</summary>
    Typedef = 8,
    /// <summary>Volatile qualifier.</summary>
    Volatile = 9,
    /// <summary>Const qualifier.</summary>
    Const = 10,
    /// <summary>Restrict qualifier.</summary>
    Restrict = 11,
    /// <summary>Function (name, linkage, prototype).</summary>
    Func = 12,
    /// <summary>Function prototype.</summary>
    FuncProto = 13,
    /// <summary>Variable.</summary>
    Var = 14,
    /// <summary>Data section: the variables placed in one ELF section.</summary>
    DataSec = 15,
    /// <summary>Floating point.</summary>
    Float = 16,
    /// <summary>Declaration tag.</summary>
    DeclTag = 17,
    /// <summary>Type tag.</summary>
    TypeTag = 18,
    /// <summary>Enumeration with 64-bit values.</summary>
    Enum64 = 19,
}

/// <summary>A BTF type. Types refer to each other by id (an index into <see cref="Btf.Types"/>, 0 being void).</summary>
public abstract class BtfType
{
    private protected BtfType(int id, BtfKind kind, string name)
    {
        Id = id;
        Kind = kind;
        Name = name;
    }

    /// <summary>This type's id.</summary>
    public int Id { get; }

    /// <summary>This type's kind.</summary>
    public BtfKind Kind { get; }

    /// <summary>The name ("" for anonymous types).</summary>
    public string Name { get; }

    /// <inheritdoc/>
    public override string ToString() => $"[{Id}] {Kind} '{Name}'";
}

/// <summary>The void type (id 0).</summary>
public sealed class BtfVoid : BtfType
{
    internal BtfVoid() : base(0, BtfKind.Void, "void") { }
}

/// <summary>An integer type.</summary>
public sealed class BtfInt : BtfType
{
    internal BtfInt(int id, string name, uint size, uint encoding, uint bitOffset, uint bits) : base(id, BtfKind.Int, name)
    {
        Size = size; Encoding = encoding; BitOffset = bitOffset; Bits = bits;
    }

    /// <summary>Size in bytes.</summary>
    public uint Size { get; }
    /// <summary>Encoding flags: 1 = signed, 2 = char, 4 = bool.</summary>
    public uint Encoding { get; }
    /// <summary>True when the integer is signed.</summary>
    public bool IsSigned => (Encoding & 1) != 0;
    /// <summary>Bit offset of the value within its storage.</summary>
    public uint BitOffset { get; }
    /// <summary>Number of value bits.</summary>
    public uint Bits { get; }
}

/// <summary>A floating-point type.</summary>
public sealed class BtfFloat : BtfType
{
    internal BtfFloat(int id, string name, uint size) : base(id, BtfKind.Float, name) => Size = size;
    /// <summary>Size in bytes.</summary>
    public uint Size { get; }
}

/// <summary>
/// A type that refers to one other type and adds nothing to its layout: pointer, typedef, const, volatile,
/// restrict or type tag. (A pointer has size 8 but still names its target.)
/// </summary>
public sealed class BtfReference : BtfType
{
    internal BtfReference(int id, BtfKind kind, string name, int targetId) : base(id, kind, name) => TargetId = targetId;
    /// <summary>The referred type's id.</summary>
    public int TargetId { get; }
}

/// <summary>An array type.</summary>
public sealed class BtfArray : BtfType
{
    internal BtfArray(int id, string name, int elementTypeId, int indexTypeId, uint length) : base(id, BtfKind.Array, name)
    {
        ElementTypeId = elementTypeId; IndexTypeId = indexTypeId; Length = length;
    }

    /// <summary>The element type's id.</summary>
    public int ElementTypeId { get; }
    /// <summary>The index type's id.</summary>
    public int IndexTypeId { get; }
    /// <summary>Number of elements (<c>nelems</c>).</summary>
    public uint Length { get; }
}

/// <summary>One member of a struct or union.</summary>
/// <param name="Name">Member name ("" for anonymous members).</param>
/// <param name="TypeId">The member's type id.</param>
/// <param name="BitOffset">Offset of the member from the start of the aggregate, in bits.</param>
/// <param name="BitfieldSize">Width in bits for a bitfield member declared with kind_flag; 0 otherwise.</param>
public readonly record struct BtfMember(string Name, int TypeId, uint BitOffset, uint BitfieldSize)
{
    /// <summary>Byte offset of the member (bit offset / 8, rounded down).</summary>
    public uint ByteOffset => BitOffset / 8;
}

/// <summary>A struct or union.</summary>
public sealed class BtfComposite : BtfType
{
    internal BtfComposite(int id, BtfKind kind, string name, uint size, IReadOnlyList<BtfMember> members) : base(id, kind, name)
    {
        Size = size; Members = members;
    }

    /// <summary>Size in bytes.</summary>
    public uint Size { get; }
    /// <summary>The members in declaration order.</summary>
    public IReadOnlyList<BtfMember> Members { get; }
    /// <summary>True for a union.</summary>
    public bool IsUnion => Kind == BtfKind.Union;

    /// <summary>The member with this name, or null.</summary>
    public BtfMember? FindMember(string name)
    {
        foreach (var m in Members)
            if (m.Name == name) return m;
        return null;
    }
}

/// <summary>One enumerator.</summary>
/// <param name="Name">Enumerator name.</param>
/// <param name="Value">Value (sign-extended when the enum is signed).</param>
public readonly record struct BtfEnumValue(string Name, long Value);

/// <summary>An enumeration (ENUM or ENUM64).</summary>
public sealed class BtfEnum : BtfType
{
    internal BtfEnum(int id, BtfKind kind, string name, uint size, bool isSigned, IReadOnlyList<BtfEnumValue> values)
        : base(id, kind, name)
    {
        Size = size; IsSigned = isSigned; Values = values;
    }

    /// <summary>Size in bytes.</summary>
    public uint Size { get; }
    /// <summary>True when the values are signed (kind_flag).</summary>
    public bool IsSigned { get; }
    /// <summary>The enumerators.</summary>
    public IReadOnlyList<BtfEnumValue> Values { get; }
}

/// <summary>A forward declaration of a struct or union.</summary>
public sealed class BtfForward : BtfType
{
    internal BtfForward(int id, string name, bool isUnion) : base(id, BtfKind.Forward, name) => IsUnion = isUnion;
    /// <summary>True when the declaration is of a union.</summary>
    public bool IsUnion { get; }
}

/// <summary>Linkage of a function or variable.</summary>
public enum BtfLinkage : uint
{
    /// <summary>Static.</summary>
    Static = 0,
    /// <summary>Global.</summary>
    Global = 1,
    /// <summary>Extern.</summary>
    Extern = 2,
}

/// <summary>A function: a name bound to a prototype.</summary>
public sealed class BtfFunc : BtfType
{
    internal BtfFunc(int id, string name, int protoId, BtfLinkage linkage) : base(id, BtfKind.Func, name)
    {
        ProtoId = protoId; Linkage = linkage;
    }

    /// <summary>The FUNC_PROTO type's id.</summary>
    public int ProtoId { get; }
    /// <summary>Linkage.</summary>
    public BtfLinkage Linkage { get; }
}

/// <summary>One parameter of a function prototype.</summary>
/// <param name="Name">Parameter name ("" when unnamed).</param>
/// <param name="TypeId">Type id (0 for the trailing variadic marker).</param>
public readonly record struct BtfParameter(string Name, int TypeId);

/// <summary>A function prototype.</summary>
public sealed class BtfFuncProto : BtfType
{
    internal BtfFuncProto(int id, int returnTypeId, IReadOnlyList<BtfParameter> parameters) : base(id, BtfKind.FuncProto, "")
    {
        ReturnTypeId = returnTypeId; Parameters = parameters;
    }

    /// <summary>Return type id (0 = void).</summary>
    public int ReturnTypeId { get; }
    /// <summary>Parameters in order.</summary>
    public IReadOnlyList<BtfParameter> Parameters { get; }
}

/// <summary>A variable.</summary>
public sealed class BtfVar : BtfType
{
    internal BtfVar(int id, string name, int typeId, BtfLinkage linkage) : base(id, BtfKind.Var, name)
    {
        TypeId = typeId; Linkage = linkage;
    }

    /// <summary>The variable's type id.</summary>
    public int TypeId { get; }
    /// <summary>Linkage.</summary>
    public BtfLinkage Linkage { get; }
}

/// <summary>One variable placed in a data section.</summary>
/// <param name="TypeId">The VAR (or FUNC for extern functions) type id.</param>
/// <param name="Offset">Byte offset in the section.</param>
/// <param name="Size">Size in bytes.</param>
public readonly record struct BtfVarSecInfo(int TypeId, uint Offset, uint Size);

/// <summary>A data section (<c>.data</c>, <c>.rodata</c>, <c>.bss</c>, <c>.maps</c>, ...) and the variables in it.</summary>
public sealed class BtfDataSec : BtfType
{
    internal BtfDataSec(int id, string name, uint size, IReadOnlyList<BtfVarSecInfo> variables) : base(id, BtfKind.DataSec, name)
    {
        Size = size; Variables = variables;
    }

    /// <summary>Section size in bytes (0 in objects before libbpf fills it in).</summary>
    public uint Size { get; }
    /// <summary>The variables in the section.</summary>
    public IReadOnlyList<BtfVarSecInfo> Variables { get; }
}

/// <summary>A declaration tag attached to a type, member or parameter.</summary>
public sealed class BtfDeclTag : BtfType
{
    internal BtfDeclTag(int id, string name, int targetId, int componentIndex) : base(id, BtfKind.DeclTag, name)
    {
        TargetId = targetId; ComponentIndex = componentIndex;
    }

    /// <summary>The tagged type's id.</summary>
    public int TargetId { get; }
    /// <summary>-1 when the whole type is tagged, otherwise the member or parameter index.</summary>
    public int ComponentIndex { get; }
}
