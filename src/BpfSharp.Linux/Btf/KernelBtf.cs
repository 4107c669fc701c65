using System.Buffers.Binary;
using System.Text;

namespace BpfSharp.Linux;

/// <summary>BTF type kinds (BTF_KIND_*).</summary>
public enum BtfKind
{
    /// <summary>Void / unknown.</summary>
    Unknown = 0,
    /// <summary>Integer.</summary>
    Int = 1,
    /// <summary>Pointer.</summary>
    Ptr = 2,
    /// <summary>Array.</summary>
    Array = 3,
    /// <summary>Struct.</summary>
    Struct = 4,
    /// <summary>Union.</summary>
    Union = 5,
    /// <summary>Enumeration (32-bit).</summary>
    Enum = 6,
    /// <summary>Forward declaration.</summary>
    Fwd = 7,
    /// <summary>Typedef.</summary>
    Typedef = 8,
    /// <summary>volatile.</summary>
    Volatile = 9,
    /// <summary>const.</summary>
    Const = 10,
    /// <summary>restrict.</summary>
    Restrict = 11,
    /// <summary>Function.</summary>
    Func = 12,
    /// <summary>Function prototype.</summary>
    FuncProto = 13,
    /// <summary>Variable.</summary>
    Var = 14,
    /// <summary>Data section.</summary>
    Datasec = 15,
    /// <summary>Floating point.</summary>
    Float = 16,
    /// <summary>Declaration tag.</summary>
    DeclTag = 17,
    /// <summary>Type tag.</summary>
    TypeTag = 18,
    /// <summary>Enumeration (64-bit).</summary>
    Enum64 = 19,
}

/// <summary>A member of a BTF struct or union.</summary>
/// <param name="Name">Member name ("" for anonymous members).</param>
/// <param name="TypeId">Type id of the member.</param>
/// <param name="BitOffset">Offset from the start of the aggregate in bits.</param>
/// <param name="BitfieldSize">Bit-field width, or 0 for ordinary members.</param>
public readonly record struct BtfMember(string Name, uint TypeId, uint BitOffset, uint BitfieldSize);

/// <summary>
/// A minimal reader of raw BTF (the kernel's <c>/sys/kernel/btf/vmlinux</c>): enough to find a type id by name
/// (tp_btf attach targets) and to list the members of structs and unions. Not a full BTF model (that belongs to
/// the object loader).
/// </summary>
public sealed class KernelBtf
{
    private readonly byte[] _data;
    private readonly int _typesStart, _stringsStart, _stringsLength;
    private readonly List<int> _typeOffsets = [0];   // index = type id; id 0 is void
    private Dictionary<(BtfKind, string), uint>? _byName;

    private static KernelBtf? _vmlinux;

    /// <summary>Parses raw BTF bytes; throws <see cref="InvalidDataException"/> naming the problem and offset.</summary>
    public KernelBtf(byte[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        _data = data;
        if (data.Length < 24 || BinaryPrimitives.ReadUInt16LittleEndian(data) != 0xEB9F)
            throw new InvalidDataException("Not little-endian BTF: bad magic at offset 0 (expected 0xEB9F).");
        int hdrLen = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(4));
        int typeOff = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(8));
        int typeLen = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(12));
        int strOff = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(16));
        _stringsLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(20));
        _typesStart = hdrLen + typeOff;
        _stringsStart = hdrLen + strOff;
        if ((long)_typesStart + typeLen > data.Length || (long)_stringsStart + _stringsLength > data.Length)
            throw new InvalidDataException($"BTF header sections exceed the {data.Length}-byte blob (types {_typesStart}+{typeLen}, strings {_stringsStart}+{_stringsLength}).");
        int pos = _typesStart, end = _typesStart + typeLen;
        while (pos < end)
        {
            if (pos + 12 > end)
                throw new InvalidDataException($"Truncated BTF type #{_typeOffsets.Count} at offset {pos}.");
            _typeOffsets.Add(pos);
            uint info = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(pos + 4));
            int vlen = (int)(info & 0xFFFF);
            var kind = (BtfKind)((info >> 24) & 0x1F);
            pos += 12 + kind switch
            {
                BtfKind.Int or BtfKind.Var or BtfKind.DeclTag => 4,
                BtfKind.Array => 12,
                BtfKind.Struct or BtfKind.Union or BtfKind.Datasec or BtfKind.Enum64 => 12 * vlen,
                BtfKind.Enum or BtfKind.FuncProto => 8 * vlen,
                BtfKind.Ptr or BtfKind.Fwd or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict
                    or BtfKind.Func or BtfKind.Float or BtfKind.TypeTag => 0,
                _ => throw new InvalidDataException($"Unknown BTF kind {(int)kind} for type #{_typeOffsets.Count - 1} at offset {pos}."),
            };
        }
    }

    /// <summary>The running kernel's BTF (<c>/sys/kernel/btf/vmlinux</c>), parsed once.</summary>
    public static KernelBtf Vmlinux
    {
        get
        {
            if (_vmlinux is null)
            {
                const string path = "/sys/kernel/btf/vmlinux";
                if (!File.Exists(path))
                    throw new BpfNotSupportedException("kernel BTF", $"{path} is missing (CONFIG_DEBUG_INFO_BTF off)");
                _vmlinux = new KernelBtf(File.ReadAllBytes(path));
            }
            return _vmlinux;
        }
    }

    /// <summary>Number of types including void (id 0).</summary>
    public int TypeCount => _typeOffsets.Count;

    /// <summary>The kind of a type id.</summary>
    public BtfKind KindOf(uint id) => id == 0 ? BtfKind.Unknown : (BtfKind)((Info(id) >> 24) & 0x1F);

    /// <summary>The name of a type id ("" for anonymous types).</summary>
    public string NameOf(uint id) => id == 0 ? "void" : String(BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(Offset(id))));

    /// <summary>The size in bytes of a struct, union, int, enum or float type.</summary>
    public uint SizeOf(uint id) => BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(Offset(id) + 8));

    /// <summary>Finds a named type of a kind; null when absent.</summary>
    public uint? FindType(string name, BtfKind kind)
    {
        if (_byName is null)
        {
            var map = new Dictionary<(BtfKind, string), uint>();
            for (uint id = 1; id < _typeOffsets.Count; id++)
            {
                uint nameOff = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(_typeOffsets[(int)id]));
                if (nameOff != 0)
                    map.TryAdd((KindOf(id), String(nameOff)), id);
            }
            _byName = map;
        }
        return _byName.TryGetValue((kind, name), out uint found) ? found : null;
    }

    /// <summary>The members of a struct or union.</summary>
    public IReadOnlyList<BtfMember> Members(uint id)
    {
        var kind = KindOf(id);
        if (kind is not (BtfKind.Struct or BtfKind.Union))
            throw new ArgumentException($"BTF type #{id} ({NameOf(id)}) is a {kind}, not a struct or union.");
        uint info = Info(id);
        bool kindFlag = (info >> 31) != 0;
        int n = (int)(info & 0xFFFF);
        int pos = Offset(id) + 12;
        var result = new BtfMember[n];
        for (int i = 0; i < n; i++, pos += 12)
        {
            uint nameOff = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(pos));
            uint type = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(pos + 4));
            uint off = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(pos + 8));
            result[i] = kindFlag ? new BtfMember(String(nameOff), type, off & 0xFFFFFF, off >> 24) : new BtfMember(String(nameOff), type, off, 0);
        }
        return result;
    }

    /// <summary>Follows typedef/const/volatile/restrict/type-tag chains to the underlying type.</summary>
    public uint Resolve(uint id)
    {
        for (int guard = 0; guard < 64 && KindOf(id) is BtfKind.Typedef or BtfKind.Const or BtfKind.Volatile or BtfKind.Restrict or BtfKind.TypeTag; guard++)
            id = BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(Offset(id) + 8));
        return id;
    }

    private int Offset(uint id)
    {
        if (id >= _typeOffsets.Count)
            throw new ArgumentOutOfRangeException(nameof(id), $"BTF has {_typeOffsets.Count} types; no type #{id}.");
        return _typeOffsets[(int)id];
    }

    private uint Info(uint id) => BinaryPrimitives.ReadUInt32LittleEndian(_data.AsSpan(Offset(id) + 4));

    private string String(uint offset)
    {
        if (offset >= _stringsLength)
            throw new InvalidDataException($"BTF string offset {offset} beyond the {_stringsLength}-byte string section.");
        int start = _stringsStart + (int)offset;
        int end = Array.IndexOf(_data, (byte)0, start, _stringsStart + _stringsLength - start);
        return Encoding.UTF8.GetString(_data, start, (end < 0 ? _stringsStart + _stringsLength : end) - start);
    }
}
