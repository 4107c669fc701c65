using System.Buffers.Binary;
using System.Diagnostics;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Elf.Tests;

/// <summary>
/// Mutated objects (bit flips, random bytes, truncation, huge sizes and offsets in headers, symbols, relocations and BTF)
/// either load or fail with <see cref="BpfObjectException"/>: no other exception, no hang, no large allocation.
/// </summary>
public sealed class FuzzTests(ITestOutputHelper output)
{
    private const int Cases = 10_000;
    private const long MaxAllocatedBytesPerCase = 64L << 20;
    private static readonly TimeSpan MaxTimePerCase = TimeSpan.FromSeconds(2);

    private sealed record Seed(string Name, byte[] Bytes, ElfFile Elf);

    private static List<Seed> Seeds()
    {
        var seeds = new List<Seed>();
        var paths = new List<string>
        {
            Path.Combine(TestSupport.DataDir, "endian", "sample-bpfel.o"),
            Path.Combine(TestSupport.DataDir, "endian", "sample-bpfeb.o"),
            Path.Combine(TestSupport.DataDir, "btf", "kinds.o"),
            Path.Combine(TestSupport.DataDir, "btf", "features.o"),
        };
        if (TestSupport.BenchObjs is { } dir)
            paths.AddRange(TestSupport.BenchNames.Select(n => Path.Combine(dir, n + ".o")));
        foreach (var p in paths)
        {
            var b = File.ReadAllBytes(p);
            seeds.Add(new Seed(Path.GetFileName(p), b, ElfFile.Parse(b)));
        }
        return seeds;
    }

    private static readonly ulong[] HugeValues =
        [0, 1, 7, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x7fffffffffffffff, 0x8000000000000000, ulong.MaxValue, ulong.MaxValue - 7];

    /// <summary>Produces one mutant; the kind of mutation is chosen at random.</summary>
    internal static byte[] Mutate(byte[] original, ElfFile elf, Random rng)
    {
        var b = (byte[])original.Clone();
        bool be = elf.IsBigEndian;
        void Put(long at, int width, ulong value)
        {
            if (at < 0 || at + width > b.Length) return;
            var s = b.AsSpan((int)at, width);
            switch (width)
            {
                case 2: if (be) BinaryPrimitives.WriteUInt16BigEndian(s, (ushort)value); else BinaryPrimitives.WriteUInt16LittleEndian(s, (ushort)value); break;
                case 4: if (be) BinaryPrimitives.WriteUInt32BigEndian(s, (uint)value); else BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)value); break;
                default: if (be) BinaryPrimitives.WriteUInt64BigEndian(s, value); else BinaryPrimitives.WriteUInt64LittleEndian(s, value); break;
            }
        }
        ulong Huge() => rng.Next(3) == 0 ? (ulong)rng.NextInt64() : HugeValues[rng.Next(HugeValues.Length)];
        ElfSection RandomSection() => elf.Sections[rng.Next(1, elf.Sections.Count)];
        ElfSection? Named(string n) => elf.FindSection(n);
        long shoff = be ? (long)BinaryPrimitives.ReadUInt64BigEndian(b.AsSpan(40)) : (long)BinaryPrimitives.ReadUInt64LittleEndian(b.AsSpan(40));

        switch (rng.Next(10))
        {
            case 0: // bit flips anywhere
                for (int i = rng.Next(1, 9); i > 0; i--) b[rng.Next(b.Length)] ^= (byte)(1 << rng.Next(8));
                return b;
            case 1: // random bytes anywhere
                for (int i = rng.Next(1, 17); i > 0; i--) b[rng.Next(b.Length)] = (byte)rng.Next(256);
                return b;
            case 2: // truncation
                return b.AsSpan(0, rng.Next(b.Length)).ToArray();
            case 3: // ELF header fields
            {
                var (at, width) = rng.Next(6) switch { 0 => (40, 8), 1 => (58, 2), 2 => (60, 2), 3 => (62, 2), 4 => (16, 2), _ => (18, 2) };
                Put(at, width, Huge());
                return b;
            }
            case 4: // a section header field: name, type, flags, offset, size, link, info, entsize
            {
                long sh = shoff + 64L * rng.Next(elf.Sections.Count);
                var (at, width) = rng.Next(8) switch { 0 => (0, 4), 1 => (4, 4), 2 => (8, 8), 3 => (24, 8), 4 => (32, 8), 5 => (40, 4), 6 => (44, 4), _ => (56, 8) };
                Put(sh + at, width, Huge());
                return b;
            }
            case 5: // a symbol field
            {
                var symtab = Named(".symtab")!;
                long sym = (long)symtab.Offset + 24L * rng.Next(Math.Max(1, (int)(symtab.Size / 24)));
                var (at, width) = rng.Next(5) switch { 0 => (0, 4), 1 => (6, 2), 2 => (8, 8), 3 => (16, 8), _ => (4, 1) };
                if (width == 1) b[sym + at] = (byte)rng.Next(256); else Put(sym + at, width, Huge());
                return b;
            }
            case 6: // a relocation entry of a code section
            {
                var rels = elf.RelocationSections.Where(r => r.Target.IsExecutable && r.Entries.Count > 0).ToList();
                if (rels.Count == 0) goto case 0;
                var rs = rels[rng.Next(rels.Count)];
                long e = (long)rs.Section.Offset + 16L * rng.Next(rs.Entries.Count);
                if (rng.Next(2) == 0) Put(e, 8, Huge());
                else Put(e + 8, 8, rng.Next(2) == 0 ? Huge() : ((ulong)rng.Next(64) << 32) | (uint)rng.Next(12));
                return b;
            }
            case 7: // BTF header or a type entry word
            {
                var btf = Named(".BTF");
                if (btf is null) goto case 0;
                long at = (long)btf.Offset + (rng.Next(2) == 0 ? 4 * rng.Next(1, 6) : 24 + 4 * rng.Next((int)Math.Max(1, (btf.Size - 24) / 4)));
                Put(at, 4, rng.Next(2) == 0 ? Huge() : (uint)rng.Next());
                return b;
            }
            case 8: // BTF.ext header or records
            {
                var ext = Named(".BTF.ext");
                if (ext is null) goto case 0;
                long at = (long)ext.Offset + 4 * rng.Next((int)Math.Max(1, ext.Size / 4));
                Put(at, 4, rng.Next(2) == 0 ? Huge() : (uint)rng.Next(1 << 16));
                return b;
            }
            default: // bytes inside a code, map or data section (instruction opcodes, registers, map definitions)
            {
                var s = RandomSection();
                if (s.Type == ElfSectionType.NoBits || s.Size == 0) goto case 0;
                for (int i = rng.Next(1, 5); i > 0; i--) b[(long)s.Offset + rng.NextInt64((long)s.Size)] = (byte)rng.Next(256);
                return b;
            }
        }
    }

    [Fact]
    public void Ten_thousand_mutated_objects_load_or_give_a_typed_error()
    {
        var seeds = Seeds();
        var rng = new Random(20261122);
        int loaded = 0, typed = 0;
        var slowest = TimeSpan.Zero;
        long mostAllocated = 0;
        var messages = new Dictionary<string, int>();
        Exception? failure = null;
        int current = -1;

        // The loop runs on its own thread so a hang is detected (the join times out) instead of stalling the run.
        var worker = new Thread(() =>
        {
            try
            {
                for (int i = 0; i < Cases; i++)
                {
                    current = i;
                    var seed = seeds[i % seeds.Count];
                    var mutant = Mutate(seed.Bytes, seed.Elf, rng);
                    long before = GC.GetAllocatedBytesForCurrentThread();
                    var sw = Stopwatch.StartNew();
                    try
                    {
                        BpfObject.Load(mutant, seed.Name);
                        loaded++;
                    }
                    catch (BpfObjectException e)
                    {
                        typed++;
                        Assert.False(string.IsNullOrWhiteSpace(e.Message));
                        var key = System.Text.RegularExpressions.Regex.Replace(e.Message, @"\d+|0x[0-9a-f]+|'[^']*'", "#");
                        messages[key] = messages.GetValueOrDefault(key) + 1;
                    }
                    catch (Exception e)
                    {
                        var path = Path.Combine(Path.GetTempPath(), $"bpfsharp-elf-fuzz-{i}.o");
                        File.WriteAllBytes(path, mutant);
                        throw new InvalidOperationException($"case {i} (from {seed.Name}, saved as {path}) threw {e.GetType().Name}: {e.Message}", e);
                    }
                    sw.Stop();
                    long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                    if (sw.Elapsed > slowest) slowest = sw.Elapsed;
                    if (allocated > mostAllocated) mostAllocated = allocated;
                    if (sw.Elapsed > MaxTimePerCase)
                        throw new InvalidOperationException($"case {i} (from {seed.Name}) took {sw.Elapsed.TotalMilliseconds} ms");
                    if (allocated > MaxAllocatedBytesPerCase)
                        throw new InvalidOperationException($"case {i} (from {seed.Name}) allocated {allocated} bytes");
                }
            }
            catch (Exception e)
            {
                failure = e;
            }
        }, 16 << 20);
        worker.Start();
        bool finished = worker.Join(TimeSpan.FromMinutes(8));
        Assert.True(finished, $"fuzz loop hung at case {current}");
        if (failure is not null) throw new Xunit.Sdk.XunitException(failure.ToString());

        output.WriteLine($"{Cases} mutants of {seeds.Count} seeds: {loaded} loaded, {typed} typed errors; slowest {slowest.TotalMilliseconds:F1} ms, most allocated {mostAllocated / 1024} KiB");
        foreach (var (msg, n) in messages.OrderByDescending(kv => kv.Value).Take(25))
            output.WriteLine($"{n,6}  {msg}");
        Assert.Equal(Cases, loaded + typed);
        Assert.True(typed > Cases / 10, "the mutations should break a good share of the objects");
    }
}
