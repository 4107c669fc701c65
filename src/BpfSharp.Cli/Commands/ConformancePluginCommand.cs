using System.CommandLine;
using System.Globalization;
using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Runtime;

namespace BpfSharp.Cli.Commands;

/// <summary>
/// The conformance suite's plugin protocol: the program as hex text on stdin, optional memory as the first argument
/// (hex bytes separated by spaces); r1 = pointer to a copy of the memory, r2 = its length; prints r0 in hex.
/// </summary>
internal static class ConformancePluginCommand
{
    public static Command Create()
    {
        var memory = new Argument<string?>("MEMORY") { Description = "memory as hex bytes", Arity = ArgumentArity.ZeroOrOne };
        var interpreter = new Option<bool>("--interpreter") { Description = "run on the interpreter (default)" };
        var jit = new Option<bool>("--jit") { Description = "run on the JIT" };
        var cmd = new Command("conformance-plugin", "run one program as a bpf_conformance plugin") { memory, interpreter, jit };
        cmd.SetAction(parse =>
        {
            try
            {
                string hex = Console.In.ReadToEnd();
                byte[] code = ParseHex(hex);
                var program = BpfProgram.FromBytes(code, "plugin");
                byte[] mem = parse.GetValue(memory) is { Length: > 0 } m ? ConformanceDataFile.ParseHexBytes(m) : [];
                string engine = parse.GetValue(jit) ? "jit" : "interpreter";
                ulong r0 = ConformanceRunner.Run(program, mem, (p, h) => Engines.Create(engine, p, h));
                Console.WriteLine(r0.ToString("x", CultureInfo.InvariantCulture));
                return 0;
            }
            catch (Exception e) when (e is FormatException or BpfFaultException or BpfLoadException or CliError)
            {
                Console.Error.WriteLine(e.Message.ReplaceLineEndings(" "));
                return 1;
            }
        });
        return cmd;
    }

    /// <summary>Hex digits, optionally separated by white space.</summary>
    private static byte[] ParseHex(string text)
    {
        var digits = new System.Text.StringBuilder(text.Length);
        foreach (char c in text) if (!char.IsWhiteSpace(c)) digits.Append(c);
        string s = digits.ToString();
        if (s.Length % 2 != 0) throw new FormatException($"program hex has an odd number of digits ({s.Length})");
        try
        {
            return Convert.FromHexString(s);
        }
        catch (FormatException)
        {
            throw new FormatException("program text on stdin is not hex");
        }
    }
}
