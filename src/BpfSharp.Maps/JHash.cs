using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;

namespace BpfSharp.Maps;

/// <summary>
/// Bob Jenkins' lookup3 hash as the Linux kernel's <c>jhash</c>/<c>jhash2</c> compute it (little-endian words),
/// so that a hash map with BPF_F_ZERO_SEED iterates in the same bucket order as the kernel's.
/// </summary>
public static class JHash
{
    private const uint InitVal = 0xdeadbeef;

    /// <summary>Hashes <paramref name="key"/> with <paramref name="seed"/>, like the kernel's <c>jhash(key, len, seed)</c>.</summary>
    public static uint Hash(ReadOnlySpan<byte> key, uint seed)
    {
        uint length = (uint)key.Length;
        uint a = InitVal + length + seed, b = a, c = a;
        int i = 0;
        while (length > 12)
        {
            a += BinaryPrimitives.ReadUInt32LittleEndian(key[i..]);
            b += BinaryPrimitives.ReadUInt32LittleEndian(key[(i + 4)..]);
            c += BinaryPrimitives.ReadUInt32LittleEndian(key[(i + 8)..]);
            Mix(ref a, ref b, ref c);
            length -= 12;
            i += 12;
        }
        if (length == 0) return c;
        var k = key[i..];
        switch (length)
        {
            case 12: c += (uint)k[11] << 24; goto case 11;
            case 11: c += (uint)k[10] << 16; goto case 10;
            case 10: c += (uint)k[9] << 8; goto case 9;
            case 9: c += k[8]; goto case 8;
            case 8: b += (uint)k[7] << 24; goto case 7;
            case 7: b += (uint)k[6] << 16; goto case 6;
            case 6: b += (uint)k[5] << 8; goto case 5;
            case 5: b += k[4]; goto case 4;
            case 4: a += (uint)k[3] << 24; goto case 3;
            case 3: a += (uint)k[2] << 16; goto case 2;
            case 2: a += (uint)k[1] << 8; goto case 1;
            case 1: a += k[0]; break;
        }
        Final(ref a, ref b, ref c);
        return c;
    }

    /// <summary>Fast path for a 4-byte key.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash4(uint word, uint seed)
    {
        uint a = InitVal + 4 + seed, b = a, c = a;
        a += word;
        Final(ref a, ref b, ref c);
        return c;
    }

    /// <summary>Fast path for an 8-byte key (little-endian words <paramref name="w0"/>, <paramref name="w1"/>).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint Hash8(uint w0, uint w1, uint seed)
    {
        uint a = InitVal + 8 + seed, b = a, c = a;
        a += w0;
        b += w1;
        Final(ref a, ref b, ref c);
        return c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Mix(ref uint a, ref uint b, ref uint c)
    {
        a -= c; a ^= BitOperations.RotateLeft(c, 4); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 6); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 8); b += a;
        a -= c; a ^= BitOperations.RotateLeft(c, 16); c += b;
        b -= a; b ^= BitOperations.RotateLeft(a, 19); a += c;
        c -= b; c ^= BitOperations.RotateLeft(b, 4); b += a;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Final(ref uint a, ref uint b, ref uint c)
    {
        c ^= b; c -= BitOperations.RotateLeft(b, 14);
        a ^= c; a -= BitOperations.RotateLeft(c, 11);
        b ^= a; b -= BitOperations.RotateLeft(a, 25);
        c ^= b; c -= BitOperations.RotateLeft(b, 16);
        a ^= c; a -= BitOperations.RotateLeft(c, 4);
        b ^= a; b -= BitOperations.RotateLeft(a, 14);
        c ^= b; c -= BitOperations.RotateLeft(b, 24);
    }
}
