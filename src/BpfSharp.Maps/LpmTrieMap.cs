using System.Numerics;
using System.Runtime.CompilerServices;

namespace BpfSharp.Maps;

/// <summary>
/// BPF_MAP_TYPE_LPM_TRIE: longest-prefix match. A key is a 4-byte host-order prefix length followed by
/// <c>key_size - 4</c> data bytes in network (big-endian) bit order: bit 0 is the most significant bit of data[0].
/// </summary>
/// <remarks>
/// The structure mirrors the kernel's: a binary trie of real and intermediate nodes, so get-next-key visits
/// nodes in the same post-order (more specific prefixes before their covering prefix, the 0 branch before the 1
/// branch). Lookups are lock-free (children published with release stores); writers take one lock. Values live
/// in native memory recycled through <see cref="BpfEpoch"/>.
/// </remarks>
public sealed unsafe class LpmTrieMap : BpfMap
{
    private sealed class Node
    {
        public required uint PrefixLen;
        public required byte[] Data;
        public byte* Value;          // null for intermediate nodes
        public volatile bool Intermediate;
        public Node? Child0;
        public Node? Child1;

        public ref Node? Child(int bit) => ref bit == 0 ? ref Child0 : ref Child1;
    }

    private readonly int _dataSize;
    private readonly uint _maxPrefixLen;
    private readonly ElementPool _values;
    private readonly Lock _lock = new();
    private Node? _root;
    private int _count;

    /// <summary>Creates the trie (use <see cref="BpfMap.Create"/> for any type).</summary>
    public LpmTrieMap(MapSpec spec, BpfMapOptions? options = null) : base(spec, options)
    {
        _dataSize = (int)spec.KeySize - 4;
        _maxPrefixLen = (uint)_dataSize * 8;
        _values = new ElementPool(MapSpec.RoundUp8(spec.ValueSize), Math.Min(spec.MaxEntries, 4096u));
    }

    /// <summary>Number of prefixes stored.</summary>
    public int Count => Volatile.Read(ref _count);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static int Bit(byte* data, uint index) => (data[index >> 3] >> (int)(7 - (index & 7))) & 1;

    private static int Bit(byte[] data, uint index) => (data[index >> 3] >> (int)(7 - (index & 7))) & 1;

    // Number of leading bits node and key share, up to the shorter of the two prefix lengths.
    private static uint MatchLength(Node node, uint keyPrefixLen, byte* keyData)
    {
        uint limit = Math.Min(node.PrefixLen, keyPrefixLen);
        uint matched = 0;
        for (int i = 0; matched < limit; i++)
        {
            int diff = node.Data[i] ^ keyData[i];
            if (diff != 0)
            {
                matched += (uint)BitOperations.LeadingZeroCount((uint)diff) - 24;
                break;
            }
            matched += 8;
        }
        return Math.Min(matched, limit);
    }

    /// <inheritdoc />
    public override byte* Lookup(byte* key)
    {
        uint keyLen = *(uint*)key;
        if (keyLen > _maxPrefixLen) return null; // the kernel rejects over-long lookup keys too
        byte* data = key + 4;
        Node? found = null;
        for (var node = Volatile.Read(ref _root); node is not null;)
        {
            uint matched = MatchLength(node, keyLen, data);
            if (matched == _maxPrefixLen) { found = node; break; }
            if (matched < node.PrefixLen) break;
            if (!node.Intermediate) found = node;
            node = Volatile.Read(ref node.Child(Bit(data, node.PrefixLen)));
        }
        return found is null ? null : found.Value;
    }

    /// <inheritdoc />
    public override long Update(byte* key, byte* value, ulong flags)
    {
        if (flags > (ulong)BpfUpdateFlags.Exist) return Err(BpfErrno.EINVAL);
        uint keyLen = *(uint*)key;
        if (keyLen > _maxPrefixLen) return Err(BpfErrno.EINVAL);
        byte* data = key + 4;
        // Allocate before taking the lock, as the kernel does; an unused node goes straight back.
        Node fresh;
        try { fresh = NewNode(keyLen, data, value); }
        catch (BpfMapException) { return Err(BpfErrno.ENOMEM); }
        long rc = Insert(fresh, keyLen, data, flags, out var replaced);
        if (rc != 0) _values.FreeUnpublished(fresh.Value);
        else if (replaced is not null) _values.Retire(replaced.Value);
        return rc;
    }

    private long Insert(Node fresh, uint keyLen, byte* data, ulong flags, out Node? replaced)
    {
        replaced = null;
        lock (_lock)
        {
            ref Node? slot = ref _root;
            Node? node;
            uint matched = 0;
            while ((node = slot) is not null)
            {
                matched = MatchLength(node, keyLen, data);
                if (node.PrefixLen != matched || node.PrefixLen == keyLen || node.PrefixLen == _maxPrefixLen) break;
                slot = ref node.Child(Bit(data, node.PrefixLen));
            }
            if (node is null)
            {
                var e = CheckAdd(flags);
                if (e != 0) return e;
                Volatile.Write(ref slot, fresh);
                return 0;
            }
            if (node.PrefixLen == matched)
            {
                // Exact prefix present (real or intermediate): replace the node, keeping its children.
                if (!node.Intermediate)
                {
                    if (flags == (ulong)BpfUpdateFlags.NoExist) return Err(BpfErrno.EEXIST);
                }
                else
                {
                    var e = CheckAdd(flags);
                    if (e != 0) return e;
                }
                fresh.Child0 = node.Child0;
                fresh.Child1 = node.Child1;
                Volatile.Write(ref slot, fresh);
                if (!node.Intermediate) replaced = node;
            }
            else
            {
                var e = CheckAdd(flags);
                if (e != 0) return e;
                if (matched == keyLen)
                {
                    // The new prefix covers the existing node: it becomes the parent.
                    fresh.Child(Bit(node.Data, matched)) = node;
                    Volatile.Write(ref slot, fresh);
                }
                else
                {
                    // They diverge at bit 'matched': join them under an intermediate node.
                    var im = new Node { PrefixLen = matched, Data = fresh.Data, Intermediate = true };
                    if (Bit(data, matched) != 0) { im.Child0 = node; im.Child1 = fresh; }
                    else { im.Child0 = fresh; im.Child1 = node; }
                    Volatile.Write(ref slot, im);
                }
            }
        }
        return 0;
    }

    private long CheckAdd(ulong flags)
    {
        if (flags == (ulong)BpfUpdateFlags.Exist) return Err(BpfErrno.ENOENT);
        if (_count == MaxEntries) return Err(BpfErrno.ENOSPC);
        Interlocked.Increment(ref _count);
        return 0;
    }

    private Node NewNode(uint prefixLen, byte* data, byte* value)
    {
        var node = new Node { PrefixLen = prefixLen, Data = new ReadOnlySpan<byte>(data, _dataSize).ToArray() };
        node.Value = _values.Allocate();
        Buffer.MemoryCopy(value, node.Value, ValueSize, ValueSize);
        return node;
    }

    /// <inheritdoc />
    public override long Delete(byte* key)
    {
        uint keyLen = *(uint*)key;
        if (keyLen > _maxPrefixLen) return Err(BpfErrno.EINVAL);
        byte* data = key + 4;
        byte* freed;
        lock (_lock)
        {
            ref Node? trim = ref _root;
            ref Node? trimParent = ref _root;
            Node? parent = null;
            Node? node;
            uint matched = 0;
            while ((node = trim) is not null)
            {
                matched = MatchLength(node, keyLen, data);
                if (node.PrefixLen != matched || node.PrefixLen == keyLen) break;
                parent = node;
                trimParent = ref trim;
                trim = ref node.Child(Bit(data, node.PrefixLen));
            }
            if (node is null || node.PrefixLen != keyLen || node.PrefixLen != matched || node.Intermediate)
                return Err(BpfErrno.ENOENT);
            Interlocked.Decrement(ref _count);
            freed = node.Value;
            if (node.Child0 is not null && node.Child1 is not null)
            {
                // Still a branching point: keep it as an intermediate node.
                node.Intermediate = true;
            }
            else if (parent is { Intermediate: true } && node.Child0 is null && node.Child1 is null)
            {
                // A leaf under an intermediate parent: the sibling takes the parent's place.
                Volatile.Write(ref trimParent, ReferenceEquals(parent.Child0, node) ? parent.Child1 : parent.Child0);
            }
            else
            {
                Volatile.Write(ref trim, node.Child0 ?? node.Child1);
            }
        }
        _values.Retire(freed);
        return 0;
    }

    /// <inheritdoc />
    public override long GetNextKey(byte* key, byte* nextKey)
    {
        var root = Volatile.Read(ref _root);
        if (root is null) return Err(BpfErrno.ENOENT);
        Node? next;
        Node? searchRoot = root;
        if (key != null && *(uint*)key <= _maxPrefixLen)
        {
            uint keyLen = *(uint*)key;
            byte* data = key + 4;
            var stack = new List<Node>();
            Node? node;
            uint matched = 0;
            for (node = root; node is not null;)
            {
                stack.Add(node);
                matched = MatchLength(node, keyLen, data);
                if (node.PrefixLen != matched || node.PrefixLen == keyLen) break;
                node = Volatile.Read(ref node.Child(Bit(data, node.PrefixLen)));
            }
            if (node is not null && node.PrefixLen == matched && !node.Intermediate)
            {
                // Exact node found: its post-order successor is the leftmost node of the right sibling
                // subtree, or else the nearest real ancestor.
                int top = stack.Count - 1;
                node = stack[top];
                searchRoot = null;
                while (top > 0)
                {
                    var parent = stack[top - 1];
                    if (ReferenceEquals(Volatile.Read(ref parent.Child0), node))
                    {
                        searchRoot = Volatile.Read(ref parent.Child1);
                        if (searchRoot is not null) break;
                    }
                    if (!parent.Intermediate) return CopyKey(parent, nextKey);
                    node = parent;
                    top--;
                }
                if (searchRoot is null) return Err(BpfErrno.ENOENT);
            }
        }
        next = Leftmost(searchRoot);
        return next is null ? Err(BpfErrno.ENOENT) : CopyKey(next, nextKey);
    }

    // First real node in post-order: intermediate nodes always have two children.
    private static Node? Leftmost(Node? node)
    {
        Node? next = null;
        while (node is not null)
        {
            if (node.Intermediate)
            {
                node = Volatile.Read(ref node.Child0);
            }
            else
            {
                next = node;
                node = Volatile.Read(ref node.Child0) ?? Volatile.Read(ref next.Child1);
            }
        }
        return next;
    }

    private long CopyKey(Node node, byte* nextKey)
    {
        *(uint*)nextKey = node.PrefixLen;
        node.Data.AsSpan().CopyTo(new Span<byte>(nextKey + 4, _dataSize));
        return 0;
    }

    /// <inheritdoc />
    protected override void FreeNative()
    {
        _root = null;
        _values.Dispose();
    }
}
