using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using BpfSharp.Isa;

namespace BpfSharp.Isa.Tests;

/// <summary>Finds and runs the LLVM tools (the independent oracle) when they are installed.</summary>
internal static class LlvmTools
{
    public static string? Objdump { get; } = Find("llvm-objdump-19");
    public static string? Mc { get; } = Find("llvm-mc-19");

    private static string? Find(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
        {
            if (dir.Length == 0) continue;
            var path = Path.Combine(dir, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }

    public static string Run(string exe, string workingDirectory, params string[] args)
    {
        var psi = new ProcessStartInfo(exe)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
        };
        foreach (var a in args) psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        var stdout = p.StandardOutput.ReadToEndAsync();
        var stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(120_000)) { p.Kill(); throw new TimeoutException($"{exe} timed out"); }
        if (p.ExitCode != 0) throw new InvalidOperationException($"{exe} {string.Join(' ', args)} failed: {stderr.Result}");
        return stdout.Result;
    }

    /// <summary>An assembler source holding <paramref name="bytes"/> as one function <c>prog</c> in .text.</summary>
    public static string ByteSource(ReadOnlySpan<byte> bytes)
    {
        var sb = new StringBuilder(".text\n.globl prog\nprog:\n");
        for (int i = 0; i < bytes.Length; i += 8)
        {
            sb.Append(".byte ");
            for (int j = 0; j < 8; j++) sb.Append(j == 0 ? "" : ",").Append(bytes[i + j]);
            sb.Append('\n');
        }
        return sb.ToString();
    }

    /// <summary>Assembles bytes with llvm-mc into an object and disassembles it with llvm-objdump (raw bytes shown).</summary>
    public static string ObjdumpOfBytes(ReadOnlySpan<byte> bytes, bool v4)
    {
        var dir = Directory.CreateTempSubdirectory("bpfsharp-golden-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "synthetic.s"), ByteSource(bytes));
            Run(Mc!, dir.FullName, "-triple", "bpfel", "-filetype=obj", "synthetic.s", "-o", "synthetic.o");
            return v4 ? Run(Objdump!, dir.FullName, "-d", "--mcpu=v4", "synthetic.o") : Run(Objdump!, dir.FullName, "-d", "synthetic.o");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Encodings llvm-mc produces for each instruction line of <paramref name="source"/>.</summary>
    public static byte[] McEncode(string source)
    {
        var dir = Directory.CreateTempSubdirectory("bpfsharp-mc-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "in.s"), source);
            var output = Run(Mc!, dir.FullName, "-triple", "bpfel", "-mcpu=v4", "-show-encoding", "in.s");
            var bytes = new List<byte>();
            foreach (Match m in Regex.Matches(output, @"encoding: \[([^\]]*)\]"))
                foreach (var part in m.Groups[1].Value.Split(','))
                    bytes.Add(Convert.ToByte(part.Trim()[2..], 16));
            return [.. bytes];
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}

/// <summary>One line of an llvm-objdump listing that matters: a symbol header or an instruction.</summary>
internal sealed record ListingLine(string Section, bool IsHeader, int Slot, string Text, byte[]? Bytes)
{
    public override string ToString() => IsHeader ? Text : $"{Slot}: {Text}";
}

internal static partial class Listing
{
    [GeneratedRegex(@"^Disassembly of section (.*):$")] private static partial Regex SectionLine();
    [GeneratedRegex(@"^[0-9a-f]{16} <.*>:$")] private static partial Regex HeaderLine();
    [GeneratedRegex(@"^\s*(\d+):\t(.*)$")] private static partial Regex InstructionLine();
    [GeneratedRegex(@"\s+")] private static partial Regex Spaces();

    public static string Normalize(string s) => Spaces().Replace(s.Trim(), " ");

    /// <summary>Parses llvm-objdump -d output (with or without raw bytes) or our disassembly.</summary>
    public static List<ListingLine> Parse(string text, bool rawBytes = false, string section = "")
    {
        var lines = new List<ListingLine>();
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.TrimEnd('\r');
            Match m;
            if ((m = SectionLine().Match(line)).Success) { section = m.Groups[1].Value; continue; }
            if (HeaderLine().IsMatch(line)) { lines.Add(new ListingLine(section, true, -1, line.Trim(), null)); continue; }
            if (!(m = InstructionLine().Match(line)).Success) continue;
            int slot = int.Parse(m.Groups[1].Value);
            string rest = m.Groups[2].Value;
            byte[]? bytes = null;
            if (rawBytes)
            {
                int tab = rest.IndexOf('\t');
                string hex = tab < 0 ? rest : rest[..tab];
                bytes = hex.Split(' ', StringSplitOptions.RemoveEmptyEntries).Select(h => Convert.ToByte(h, 16)).ToArray();
                rest = tab < 0 ? "" : rest[(tab + 1)..];
            }
            lines.Add(new ListingLine(section, false, slot, Normalize(rest), bytes));
        }
        return lines;
    }

    /// <summary>The instruction and header lines as assembler input (address column kept, raw bytes dropped).</summary>
    public static string ToSource(IEnumerable<ListingLine> lines) =>
        string.Join('\n', lines.Select(l => l.IsHeader ? l.Text : $"{l.Slot,8}:\t{l.Text}"));
}

/// <summary>What llvm-objdump's default text loses, applied to an instruction (see LlvmDisassemblyOptions.Lossless).</summary>
internal static class ObjdumpLoss
{
    public static Instruction Apply(Instruction ins) => ins.Op switch
    {
        Op.CallLocal or Op.CallKfunc => new Instruction(Op.Call, 0, 0, 0, ins.Imm32),
        Op.LdIndB or Op.LdIndH or Op.LdIndW => ins with { Imm = 0 },
        _ when ins.Info.Kind == InstructionKind.LoadImm64 && ins.Info.LoadSource != LoadImm64Source.Imm64 => ins with { Imm = (uint)ins.Imm32 },
        _ => ins,
    };

    /// <summary>
    /// The same losses on raw slots that need not form a valid program (unrelocated objects).
    /// </summary>
    public static byte[] ApplyToBytes(ReadOnlySpan<byte> bytes)
    {
        var slots = RawInstruction.FromBytes(bytes).ToArray();
        for (int pc = 0; pc < slots.Length; pc++)
        {
            var raw = slots[pc];
            var rows = OpcodeTable.ForOpcode(raw.Opcode);
            if (rows.Length == 0) continue;
            var kind = rows[0].Kind;
            if (kind == InstructionKind.Call && raw.Src is 1 or 2)
                slots[pc] = new RawInstruction(raw.Opcode, raw.Dst, 0, 0, raw.Imm);
            else if (kind == InstructionKind.LoadPacketInd)
                slots[pc] = new RawInstruction(raw.Opcode, raw.Dst, raw.Src, raw.Offset, 0);
            else if (kind == InstructionKind.LoadImm64 && raw.Src != 0 && pc + 1 < slots.Length)
                slots[pc + 1] = new RawInstruction(0, 0, 0, 0, 0);
            if (kind == InstructionKind.LoadImm64) pc++;
        }
        return RawInstruction.ToBytes(slots).ToArray();
    }

    /// <summary>
    /// Whether a line of <c>llvm-objdump --mcpu=v4</c> is a 32-bit atomic that the no-cpu llvm-objdump cannot print
    /// faithfully (everything but the plain add): our default spelling uses the v4 text there.
    /// </summary>
    public static bool IsNarrowAtomicPlainCpuMisprints(string v4Text) =>
        (v4Text.StartsWith("lock *(u32 *)", StringComparison.Ordinal) && !v4Text.Contains(" += ", StringComparison.Ordinal))
        || (v4Text.Contains("atomic_fetch_", StringComparison.Ordinal) && v4Text.Contains("(u32 *)", StringComparison.Ordinal))
        || v4Text.Contains("xchg32_32(", StringComparison.Ordinal);
}
