using BpfSharp.Asm;
using BpfSharp.Isa;

namespace BpfSharp.Cli.Commands;

/// <summary>Reads a program from any file the CLI accepts: raw bytecode, assembler text, or a conformance .data file.</summary>
internal static class ProgramInput
{
    public static (BpfProgram Program, byte[] Memory) Load(string path, AsmSyntax? syntax)
    {
        if (!File.Exists(path)) throw new CliError($"{path}: no such file");
        string name = Path.GetFileNameWithoutExtension(path);
        string ext = Path.GetExtension(path).ToLowerInvariant();
        if (ext == ".data")
        {
            var data = ConformanceDataFile.Load(path);
            if (data.Asm is null) throw new CliError($"{path}: no '-- asm' section");
            return (Wrap(path, () => ConformanceAssembler.Assemble(data.Asm, name)), data.Memory);
        }
        byte[] bytes = File.ReadAllBytes(path);
        if (ext is ".bin" or ".o" && !IsElf(bytes) || ext == ".bin")
            return (Wrap(path, () => BpfProgram.FromBytes(bytes, name)), []);
        if (IsElf(bytes)) throw new CliError($"{path}: ELF objects are read by 'bpfsharp objdump' and 'run OBJ' once the object loader is present");
        string text = System.Text.Encoding.UTF8.GetString(bytes);
        var chosen = syntax ?? Assembler.DetectSyntax(text);
        return (Wrap(path, () => Assembler.Assemble(text, chosen, name)), []);
    }

    private static bool IsElf(byte[] bytes) => bytes.Length >= 4 && bytes[0] == 0x7f && bytes[1] == (byte)'E' && bytes[2] == (byte)'L' && bytes[3] == (byte)'F';

    private static BpfProgram Wrap(string path, Func<BpfProgram> load)
    {
        try
        {
            return load();
        }
        catch (AsmException e)
        {
            throw new CliError($"{path}:{e.Line}:{e.Column}: {e.Reason}");
        }
        catch (BpfDecodeException e)
        {
            throw new CliError($"{path}: {e.Message}");
        }
    }

    public static AsmSyntax? ParseSyntax(string? value) => value switch
    {
        null => null,
        "llvm" => AsmSyntax.Llvm,
        "conformance" => AsmSyntax.Conformance,
        _ => throw new CliError($"unknown syntax '{value}' (expected llvm or conformance)"),
    };
}
