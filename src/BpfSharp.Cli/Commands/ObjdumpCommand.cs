using System.CommandLine;
using System.Globalization;
using System.Text;
using BpfSharp.Asm;
using BpfSharp.Elf;
using BpfSharp.Isa;
using Spectre.Console;

namespace BpfSharp.Cli.Commands;

/// <summary><c>objdump</c>: what an ELF object holds: programs, maps, and each program's code with its C source lines.</summary>
internal static class ObjdumpCommand
{
    public static Command Create()
    {
        var file = new Argument<string>("OBJ") { Description = "ELF object built for BPF" };
        var program = new Option<string?>("--program") { Description = "only this program" };
        var noSource = new Option<bool>("--no-source") { Description = "do not interleave C source lines" };
        var cmd = new Command("objdump", "show the programs, maps and disassembly of an ELF object") { file, program, noSource };
        cmd.SetAction(parse => CliGuard.Run(() =>
        {
            string path = parse.GetValue(file)!;
            if (!File.Exists(path)) throw new CliError($"{path}: no such file");
            var obj = BpfObject.Load(path);
            PrintSummary(obj);
            string? only = parse.GetValue(program);
            bool any = false;
            foreach (var p in obj.Programs)
            {
                if (only is not null && p.Name != only) continue;
                any = true;
                Console.Write(Disassemble(obj, p, !parse.GetValue(noSource)));
            }
            if (only is not null && !any) throw new CliError($"no program named '{only}' (programs: {string.Join(", ", obj.Programs.Select(p => p.Name))})");
            return 0;
        }));
        return cmd;
    }

    private static void PrintSummary(BpfObject obj)
    {
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(obj.Name)}[/]: {(obj.IsBigEndian ? "big" : "little")}-endian, license \"{Markup.Escape(obj.License)}\", BTF {(obj.Btf is null ? "absent" : "present")}");
        var programs = new Table();
        programs.AddColumns("program", "section", "type", "attach", "insns", "maps used");
        foreach (var p in obj.Programs)
        {
            var maps = p.MapReferences.Select(r => obj.Maps[r.MapIndex].Name).Distinct();
            programs.AddRow(Markup.Escape(p.Name), Markup.Escape(p.SectionName), p.Type.ToString(),
                Markup.Escape(p.ExpectedAttachType?.ToString() ?? p.AttachTarget ?? ""), p.InstructionCount.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(string.Join(", ", maps)));
        }
        AnsiConsole.Write(programs);
        if (obj.Maps.Count == 0) return;
        var maps2 = new Table();
        maps2.AddColumns("map", "type", "key", "value", "max entries", "flags", "source");
        foreach (var m in obj.Maps)
        {
            maps2.AddRow(Markup.Escape(m.Name), m.Type.ToString(), m.KeySize.ToString(CultureInfo.InvariantCulture),
                m.ValueSize.ToString(CultureInfo.InvariantCulture), m.MaxEntries.ToString(CultureInfo.InvariantCulture),
                $"0x{m.Flags:x}{(m.IsFrozen ? " frozen" : "")}", m.Source.ToString());
        }
        AnsiConsole.Write(maps2);
    }

    /// <summary>The program's code in LLVM syntax with "; file:line: source" before the first instruction of each line.</summary>
    public static string Disassemble(BpfObject obj, ProgramSpec program, bool withSource)
    {
        var mapRefs = new Dictionary<int, MapReference>();
        foreach (var r in program.MapReferences) mapRefs[r.InstructionIndex] = r;
        var sb = new StringBuilder();
        sb.Append('\n').Append(program.Name).Append(" (section ").Append(program.SectionName).Append("):\n");
        var raw = program.Instructions;
        string? lastLine = null;
        for (int pc = 0; pc < raw.Length; pc++)
        {
            if (withSource && program.FindLine(pc) is { } line)
            {
                string where = $"{Path.GetFileName(line.FileName)}:{line.Line}";
                if (where != lastLine)
                {
                    sb.Append("; ").Append(where).Append(": ").Append(line.LineText.Trim()).Append('\n');
                    lastLine = where;
                }
            }
            var row = Lookup(raw[pc]);
            if (row is null)
            {
                sb.Append(CultureInfo.InvariantCulture, $"{pc,6}:\t<unknown opcode 0x{raw[pc].Opcode:x2}>\n");
                continue;
            }
            Instruction ins = Decode(raw, pc, row);
            sb.Append(CultureInfo.InvariantCulture, $"{pc,6}:\t");
            if (mapRefs.TryGetValue(pc, out var mr))
            {
                // The loader patches these; show which map (and offset) the slot refers to.
                string map = obj.Maps[mr.MapIndex].Name;
                string text = mr.Kind == MapReferenceKind.MapFd
                    ? $"r{ins.Dst} = map[{map}] ll"
                    : string.Create(CultureInfo.InvariantCulture, $"r{ins.Dst} = map_value[{map}] + 0x{mr.Offset:x} ll");
                sb.Append(text).Append('\n');
            }
            else sb.Append(LlvmDisassembler.Format(ins, pc)).Append('\n');
            if (row.Width == 2) pc++;
        }
        return sb.ToString();
    }

    private static OpInfo? Lookup(RawInstruction raw)
    {
        foreach (var row in OpcodeTable.ForOpcode(raw.Opcode))
        {
            int actual = row.Discriminator switch
            {
                VariantField.Offset => raw.Offset,
                VariantField.Imm => raw.Imm,
                VariantField.Src => raw.Src,
                _ => row.DiscriminatorValue,
            };
            if (actual == row.DiscriminatorValue) return row;
        }
        return null;
    }

    private static Instruction Decode(ReadOnlySpan<RawInstruction> raw, int pc, OpInfo row)
    {
        var r = raw[pc];
        long imm = row.Width == 2 && pc + 1 < raw.Length ? (uint)r.Imm | ((long)raw[pc + 1].Imm << 32) : r.Imm;
        return new Instruction(row.Op, r.Dst, row.Discriminator == VariantField.Src ? (byte)0 : r.Src,
            row.Discriminator == VariantField.Offset ? (short)0 : r.Offset, row.Discriminator == VariantField.Imm ? 0 : imm);
    }
}
