using System.CommandLine;
using BpfSharp.Asm;

namespace BpfSharp.Cli.Commands;

/// <summary>The <c>asm</c> and <c>disasm</c> commands.</summary>
internal static class AsmCommands
{
    private static Option<string?> SyntaxOption(string description) => new("--syntax")
    {
        Description = description,
        HelpName = "llvm|conformance",
    };

    public static Command Asm()
    {
        var file = new Argument<string>("FILE") { Description = "assembler text (LLVM or conformance syntax)" };
        var syntax = SyntaxOption("input syntax (default: detected)");
        var output = new Option<string?>("--output", "-o") { Description = "output file (default: FILE with .bin)" };
        var cmd = new Command("asm", "assemble text into raw eBPF bytecode") { file, syntax, output };
        cmd.SetAction(parse => CliGuard.Run(() =>
        {
            string path = parse.GetValue(file)!;
            var (program, _) = ProgramInput.Load(path, ProgramInput.ParseSyntax(parse.GetValue(syntax)));
            string outPath = parse.GetValue(output) ?? Path.ChangeExtension(path, ".bin");
            File.WriteAllBytes(outPath, program.ToBytes());
            Console.WriteLine($"{outPath}: {program.Count} instructions ({program.Count * 8} bytes)");
            return 0;
        }));
        return cmd;
    }

    public static Command Disasm()
    {
        var file = new Argument<string>("FILE") { Description = "raw bytecode (.bin), assembler text or a conformance .data file" };
        var syntax = SyntaxOption("output syntax (default: llvm)");
        var cmd = new Command("disasm", "disassemble a program") { file, syntax };
        cmd.SetAction(parse => CliGuard.Run(() =>
        {
            if (ProgramInput.IsElfFile(parse.GetValue(file)!))
            {
                var obj = Elf.BpfObject.Load(parse.GetValue(file)!);
                foreach (var p in obj.Programs) Console.Write(ObjdumpCommand.Disassemble(obj, p, withSource: false));
                return 0;
            }
            var (program, _) = ProgramInput.Load(parse.GetValue(file)!, null);
            var chosen = ProgramInput.ParseSyntax(parse.GetValue(syntax)) ?? AsmSyntax.Llvm;
            Console.Write(Disassembler.Disassemble(program, chosen));
            return 0;
        }));
        return cmd;
    }
}
