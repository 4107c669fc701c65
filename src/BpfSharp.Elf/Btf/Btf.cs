namespace BpfSharp.Elf.Btf;

/// <summary>
/// Parsed BTF (the <c>.BTF</c> section): the type graph and its string table. Parsing checks every length and
/// offset against the section, so malformed BTF yields a <see cref="BpfObjectException"/>.
/// </summary>
public sealed class Btf
{
    /// <summary>The BTF magic number.</summary>
    public const ushort Magic = 0xEB9F;

    /// <summary>How many references (typedefs, qualifiers, array elements) size resolution follows before giving up.</summary>
    public const int MaxResolveDepth = 32;

    private const int TypeHeaderSize = 12;
    private readonly byte[] _strings;
    private readonly BtfType[] _types;
    private Dictionary<string, List<BtfType>>? _byName;
    private Dictionary<string, List<BtfType>>? _byEssentialName;
    private readonly Dictionary<uint, string> _stringCache = new();

    private Btf(BtfType[] types, byte[] strings, bool bigEndian)
    {
        _types = types;
        _strings = strings;
        IsBigEndian = bigEndian;
    }

    /// <summary>All types; index = type id, index 0 is <see cref="BtfVoid"/>.</summary>
    public IReadOnlyList<BtfType> Types => _types;

    /// <summary>True when the BTF was encoded big-endian.</summary>
    public bool IsBigEndian { get; }

    /// <summary>Where the running kernel exposes its own BTF.</summary>
    public const string KernelBtfPath = "/sys/kernel/btf/vmlinux";

    /// <summary>
    /// Reads and parses the running kernel's BTF (<see cref="KernelBtfPath"/>, about 5 MB and 100k+ types on a 6.x
    /// kernel), the usual target for <see cref="CoreRelocator"/>. Raw BTF files carry no ELF header, so the byte order
    /// comes from the magic.
    /// </summary>
    /// <param name="path">Another raw BTF file (e.g. a module's <c>/sys/kernel/btf/NAME</c> is split BTF and not supported).</param>
    /// <exception cref="FileNotFoundException">The file does not exist (kernel without CONFIG_DEBUG_INFO_BTF).</exception>
    /// <exception cref="BpfObjectException">The file is not well-formed BTF.</exception>
    public static Btf LoadKernel(string path = KernelBtfPath) => Parse(File.ReadAllBytes(path));

    /// <summary>Parses raw BTF data (a <c>.BTF</c> section or a file such as <c>/sys/kernel/btf/vmlinux</c>), taking the byte order from the magic.</summary>
    /// <exception cref="BpfObjectException">The data is not well-formed BTF.</exception>
    public static Btf Parse(ReadOnlySpan<byte> data)
    {
        if (data.Length < 2)
            throw new BpfObjectException($"header needs 24 bytes, data has {data.Length}", ".BTF", null);
        // The magic 0xEB9F reads as 9F EB in little-endian data and EB 9F in big-endian data.
        return Parse(data, bigEndian: data[0] == 0xEB && data[1] == 0x9F);
    }

    /// <summary>Parses a <c>.BTF</c> section in the given byte order.</summary>
    /// <exception cref="BpfObjectException">The data is not well-formed BTF.</exception>
    public static Btf Parse(ReadOnlySpan<byte> data, bool bigEndian)
    {
        const string Sec = ".BTF";
        var r = new EndianReader(bigEndian);
        if (data.Length < 24)
            throw new BpfObjectException($"header needs 24 bytes, section has {data.Length}", Sec, null);
        if (r.U16(data, 0) != Magic)
            throw new BpfObjectException($"bad magic 0x{r.U16(data, 0):x4} (expected 0x{Magic:x4} in the object's byte order)", Sec, null);
        if (data[2] != 1)
            throw new BpfObjectException($"unsupported BTF version {data[2]}", Sec, null);
        uint hdrLen = r.U32(data, 4);
        uint typeOff = r.U32(data, 8), typeLen = r.U32(data, 12), strOff = r.U32(data, 16), strLen = r.U32(data, 20);
        if (hdrLen < 24 || hdrLen > (uint)data.Length)
            throw new BpfObjectException($"header length {hdrLen} is invalid for a {data.Length}-byte section", Sec, null);
        var body = data[(int)hdrLen..];
        var typeData = Slice(body, typeOff, typeLen, "type section", Sec);
        var strData = Slice(body, strOff, strLen, "string section", Sec);
        if (strLen == 0 || strData[0] != 0)
            throw new BpfObjectException("string section must start with an empty string", Sec, null);

        var strings = strData.ToArray();
        var names = new Dictionary<uint, string>();
        string Name(uint off, int id)
        {
            if (off == 0) return "";
            if (names.TryGetValue(off, out var n)) return n;
            try
            {
                n = ElfFile.ReadCString(strings, off, Sec);
            }
            catch (BpfObjectException e)
            {
                throw new BpfObjectException($"type {id}: bad name: {e.Message}", e);
            }
            names[off] = n;
            return n;
        }

        // Every type takes at least 12 bytes, which bounds the list before anything is allocated per type.
        var types = new List<BtfType>(Math.Min(typeData.Length / TypeHeaderSize + 1, 1 << 16)) { new BtfVoid() };
        int pos = 0;
        while (pos < typeData.Length)
        {
            int id = types.Count;
            if (typeData.Length - pos < TypeHeaderSize)
                throw new BpfObjectException($"type {id} at offset {pos} is truncated", Sec, null);
            uint nameOff = r.U32(typeData, pos);
            uint info = r.U32(typeData, pos + 4);
            uint sizeOrType = r.U32(typeData, pos + 8);
            pos += TypeHeaderSize;
            int vlen = (int)(info & 0xffff);
            var kind = (BtfKind)((info >> 24) & 0x1f);
            bool kindFlag = (info >> 31) != 0;
            string name = Name(nameOff, id);
            int typeRef = ToId(sizeOrType, id);

            static ReadOnlySpan<byte> ExtraOf(ReadOnlySpan<byte> typeData, int id, BtfKind kind, string name, int recordSize, int count, ref int p)
            {
                long need = (long)recordSize * count;
                if (need > typeData.Length - p)
                    throw new BpfObjectException($"type {id} ({kind} '{name}') needs {need} more bytes, {typeData.Length - p} remain", Sec, null);
                var s = typeData.Slice(p, (int)need);
                p += (int)need;
                return s;
            }

            BtfType t;
            switch (kind)
            {
                case BtfKind.Int:
                {
                    var e = ExtraOf(typeData, id, kind, name, 4, 1, ref pos);
                    uint enc = r.U32(e, 0);
                    t = new BtfInt(id, name, sizeOrType, (enc >> 24) & 0xf, (enc >> 16) & 0xff, enc & 0xff);
                    break;
                }
                case BtfKind.Pointer or BtfKind.Typedef or BtfKind.Volatile or BtfKind.Const or BtfKind.Restrict or BtfKind.TypeTag:
                    t = new BtfReference(id, kind, name, typeRef);
                    break;
                case BtfKind.Array:
                {
                    var e = ExtraOf(typeData, id, kind, name, 12, 1, ref pos);
                    t = new BtfArray(id, name, ToId(r.U32(e, 0), id), ToId(r.U32(e, 4), id), r.U32(e, 8));
                    break;
                }
                case BtfKind.Struct or BtfKind.Union:
                {
                    var e = ExtraOf(typeData, id, kind, name, 12, vlen, ref pos);
                    var members = new BtfMember[vlen];
                    for (int i = 0; i < vlen; i++)
                    {
                        uint off = r.U32(e, i * 12 + 8);
                        members[i] = new BtfMember(Name(r.U32(e, i * 12), id), ToId(r.U32(e, i * 12 + 4), id),
                            kindFlag ? off & 0xffffff : off, kindFlag ? off >> 24 : 0);
                    }
                    t = new BtfComposite(id, kind, name, sizeOrType, members);
                    break;
                }
                case BtfKind.Enum:
                {
                    var e = ExtraOf(typeData, id, kind, name, 8, vlen, ref pos);
                    var values = new BtfEnumValue[vlen];
                    for (int i = 0; i < vlen; i++)
                    {
                        uint raw = r.U32(e, i * 8 + 4);
                        values[i] = new BtfEnumValue(Name(r.U32(e, i * 8), id), kindFlag ? (int)raw : raw);
                    }
                    t = new BtfEnum(id, kind, name, sizeOrType, kindFlag, values);
                    break;
                }
                case BtfKind.Enum64:
                {
                    var e = ExtraOf(typeData, id, kind, name, 12, vlen, ref pos);
                    var values = new BtfEnumValue[vlen];
                    for (int i = 0; i < vlen; i++)
                    {
                        ulong v = r.U32(e, i * 12 + 4) | ((ulong)r.U32(e, i * 12 + 8) << 32);
                        values[i] = new BtfEnumValue(Name(r.U32(e, i * 12), id), unchecked((long)v));
                    }
                    t = new BtfEnum(id, kind, name, sizeOrType, kindFlag, values);
                    break;
                }
                case BtfKind.Forward:
                    t = new BtfForward(id, name, kindFlag);
                    break;
                case BtfKind.Func:
                    t = new BtfFunc(id, name, typeRef, (BtfLinkage)vlen);
                    break;
                case BtfKind.FuncProto:
                {
                    var e = ExtraOf(typeData, id, kind, name, 8, vlen, ref pos);
                    var ps = new BtfParameter[vlen];
                    for (int i = 0; i < vlen; i++)
                        ps[i] = new BtfParameter(Name(r.U32(e, i * 8), id), ToId(r.U32(e, i * 8 + 4), id));
                    t = new BtfFuncProto(id, typeRef, ps);
                    break;
                }
                case BtfKind.Var:
                {
                    var e = ExtraOf(typeData, id, kind, name, 4, 1, ref pos);
                    t = new BtfVar(id, name, typeRef, (BtfLinkage)r.U32(e, 0));
                    break;
                }
                case BtfKind.DataSec:
                {
                    var e = ExtraOf(typeData, id, kind, name, 12, vlen, ref pos);
                    var vars = new BtfVarSecInfo[vlen];
                    for (int i = 0; i < vlen; i++)
                        vars[i] = new BtfVarSecInfo(ToId(r.U32(e, i * 12), id), r.U32(e, i * 12 + 4), r.U32(e, i * 12 + 8));
                    t = new BtfDataSec(id, name, sizeOrType, vars);
                    break;
                }
                case BtfKind.Float:
                    t = new BtfFloat(id, name, sizeOrType);
                    break;
                case BtfKind.DeclTag:
                {
                    var e = ExtraOf(typeData, id, kind, name, 4, 1, ref pos);
                    t = new BtfDeclTag(id, name, typeRef, r.I32(e, 0));
                    break;
                }
                default:
                    throw new BpfObjectException($"type {id} has unknown kind {(int)kind}", Sec, null);
            }
            types.Add(t);
        }

        var btf = new Btf(types.ToArray(), strings, bigEndian);
        btf.CheckReferences();
        return btf;
    }

    /// <summary>The type with this id.</summary>
    /// <exception cref="BpfObjectException">The id is out of range.</exception>
    public BtfType this[int id] => id >= 0 && id < _types.Length
        ? _types[id]
        : throw new BpfObjectException($"BTF type id {id} is out of range (0..{_types.Length - 1})", ".BTF", null);

    /// <summary>Reads a string of the BTF string section.</summary>
    public string GetString(uint offset)
    {
        // Line info repeats the same file and line strings many times; decode each once.
        lock (_stringCache)
        {
            if (_stringCache.TryGetValue(offset, out var s)) return s;
            s = ElfFile.ReadCString(_strings, offset, ".BTF");
            _stringCache[offset] = s;
            return s;
        }
    }

    /// <summary>All types with this name, in id order.</summary>
    public IReadOnlyList<BtfType> FindByName(string name)
    {
        if (_byName is null)
        {
            var d = new Dictionary<string, List<BtfType>>(StringComparer.Ordinal);
            foreach (var t in _types)
            {
                if (t.Name.Length == 0 || t.Kind == BtfKind.Void) continue;
                if (!d.TryGetValue(t.Name, out var l)) d[t.Name] = l = new List<BtfType>(1);
                l.Add(t);
            }
            _byName = d;
        }
        return _byName.TryGetValue(name, out var list) ? list : [];
    }

    /// <summary>
    /// All types whose essential name (see <see cref="EssentialName"/>) is <paramref name="essentialName"/>, in id
    /// order: the CO-RE candidates for a local type. The index is built once, on first use.
    /// </summary>
    public IReadOnlyList<BtfType> FindByEssentialName(string essentialName)
    {
        var index = _byEssentialName;
        if (index is null)
        {
            index = new Dictionary<string, List<BtfType>>(_types.Length, StringComparer.Ordinal);
            foreach (var t in _types)
            {
                if (t.Name.Length == 0 || t.Kind == BtfKind.Void) continue;
                int len = EssentialNameLength(t.Name);
                var key = len == t.Name.Length ? t.Name : t.Name[..len];
                if (!index.TryGetValue(key, out var l)) index[key] = l = new List<BtfType>(1);
                l.Add(t);
            }
            _byEssentialName = index;
        }
        return index.TryGetValue(essentialName, out var list) ? list : [];
    }

    /// <summary>
    /// A name without its CO-RE "flavor": the part before the last <c>X___Y</c> separator (three underscores between
    /// two non-underscores), so <c>task_struct___v58</c> is <c>task_struct</c>. Names without one are returned whole.
    /// </summary>
    public static string EssentialName(string name) => name[..EssentialNameLength(name)];

    /// <summary>The length of <paramref name="name"/>'s essential part (see <see cref="EssentialName"/>).</summary>
    public static int EssentialNameLength(ReadOnlySpan<char> name)
    {
        for (int i = name.Length - 5; i >= 0; i--)
        {
            if (name[i] != '_' && name[i + 1] == '_' && name[i + 2] == '_' && name[i + 3] == '_' && name[i + 4] != '_')
                return i + 1;
        }
        return name.Length;
    }

    /// <summary>The first type with this name and kind, or null.</summary>
    public T? Find<T>(string name) where T : BtfType
    {
        foreach (var t in FindByName(name))
            if (t is T match) return match;
        return null;
    }

    /// <summary>Follows typedefs, qualifiers and type tags to the underlying type.</summary>
    /// <exception cref="BpfObjectException">The chain is longer than <see cref="MaxResolveDepth"/> (or cyclic).</exception>
    public BtfType SkipModifiers(int id)
    {
        var t = this[id];
        for (int depth = 0; ; depth++)
        {
            if (t is not BtfReference { Kind: not BtfKind.Pointer } r) return t;
            if (depth >= MaxResolveDepth)
                throw new BpfObjectException($"type {id}: typedef/qualifier chain is deeper than {MaxResolveDepth} (or cyclic)", ".BTF", null);
            t = this[r.TargetId];
        }
    }

    /// <summary>The size in bytes of a type, resolving typedefs, qualifiers, arrays and variables.</summary>
    /// <exception cref="BpfObjectException">The type has no size (void, function, forward) or resolution is too deep or overflows.</exception>
    public ulong GetSize(int id) => GetSize(id, 0);

    private ulong GetSize(int id, int depth)
    {
        if (depth > MaxResolveDepth)
            throw new BpfObjectException($"type {id}: size resolution is deeper than {MaxResolveDepth} (or cyclic)", ".BTF", null);
        var t = this[id];
        switch (t)
        {
            case BtfInt i: return i.Size;
            case BtfFloat f: return f.Size;
            case BtfComposite c: return c.Size;
            case BtfEnum e: return e.Size;
            case BtfDataSec d: return d.Size;
            case BtfReference { Kind: BtfKind.Pointer }: return 8;
            case BtfReference r: return GetSize(r.TargetId, depth + 1);
            case BtfVar v: return GetSize(v.TypeId, depth + 1);
            case BtfArray a:
            {
                ulong elem = GetSize(a.ElementTypeId, depth + 1);
                ulong total;
                try
                {
                    total = checked(elem * a.Length);
                }
                catch (OverflowException)
                {
                    throw new BpfObjectException($"type {id}: array size {a.Length} x {elem} overflows", ".BTF", null);
                }
                return total;
            }
            default:
                throw new BpfObjectException($"type {id} ({t.Kind} '{t.Name}') has no size", ".BTF", null);
        }
    }

    private static ReadOnlySpan<byte> Slice(ReadOnlySpan<byte> body, uint off, uint len, string what, string sec)
    {
        if (off > (uint)body.Length || len > (uint)body.Length - off)
            throw new BpfObjectException($"{what} (offset {off}, length {len}) extends past the end of the {body.Length}-byte data after the header", sec, null);
        return body.Slice((int)off, (int)len);
    }

    private static int ToId(uint raw, int id) =>
        raw > int.MaxValue ? throw new BpfObjectException($"type {id} refers to type id {raw}, which is out of range", ".BTF", null) : (int)raw;

    private void CheckReferences()
    {
        int n = _types.Length;
        void Check(BtfType t, int target, string what)
        {
            if (target < 0 || target >= n)
                throw new BpfObjectException($"type {t.Id} ({t.Kind} '{t.Name}'): {what} refers to type {target}, but there are only {n} types", ".BTF", null);
        }
        foreach (var t in _types)
        {
            switch (t)
            {
                case BtfReference r: Check(t, r.TargetId, "target"); break;
                case BtfArray a: Check(t, a.ElementTypeId, "element"); Check(t, a.IndexTypeId, "index"); break;
                case BtfComposite c: foreach (var m in c.Members) Check(t, m.TypeId, $"member '{m.Name}'"); break;
                case BtfFunc f: Check(t, f.ProtoId, "prototype"); break;
                case BtfFuncProto p:
                    Check(t, p.ReturnTypeId, "return type");
                    foreach (var prm in p.Parameters) Check(t, prm.TypeId, $"parameter '{prm.Name}'");
                    break;
                case BtfVar v: Check(t, v.TypeId, "type"); break;
                case BtfDataSec d: foreach (var v in d.Variables) Check(t, v.TypeId, "variable"); break;
                case BtfDeclTag g: Check(t, g.TargetId, "target"); break;
            }
        }
    }
}
