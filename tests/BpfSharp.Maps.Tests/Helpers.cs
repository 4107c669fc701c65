using System.Buffers.Binary;
using BpfSharp.Maps;

namespace BpfSharp.Maps.Tests;

internal static unsafe class H
{
    public static byte[] U32(uint v) { var b = new byte[4]; BinaryPrimitives.WriteUInt32LittleEndian(b, v); return b; }
    public static byte[] U64(ulong v) { var b = new byte[8]; BinaryPrimitives.WriteUInt64LittleEndian(b, v); return b; }

    /// <summary>LPM key: host-order prefix length, then the address bytes as written.</summary>
    public static byte[] Lpm(uint prefixLen, params byte[] data)
    {
        var b = new byte[4 + data.Length];
        BinaryPrimitives.WriteUInt32LittleEndian(b, prefixLen);
        data.CopyTo(b, 4);
        return b;
    }

    public static string LpmText(byte[] key) =>
        $"{string.Join('.', key[4..])}/{BinaryPrimitives.ReadUInt32LittleEndian(key)}";

    public static byte* Lookup(BpfMap map, byte[] key)
    {
        fixed (byte* k = key) return map.Lookup(k);
    }

    public static long Update(BpfMap map, byte[] key, byte[] value, ulong flags = 0)
    {
        fixed (byte* k = key) fixed (byte* v = value) return map.Update(k, v, flags);
    }

    public static long Delete(BpfMap map, byte[] key)
    {
        fixed (byte* k = key) return map.Delete(k);
    }

    public static long Push(BpfMap map, byte[] value, ulong flags = 0)
    {
        fixed (byte* v = value) return map.Push(v, flags);
    }

    public static (long Rc, byte[] Value) Pop(BpfMap map, int size)
    {
        var v = new byte[size];
        fixed (byte* p = v) { long rc = map.Pop(p); return (rc, v); }
    }

    public static long E(BpfErrno e) => -(long)e;
}
