using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Isa.Tests;

/// <summary>
/// clang-19's assembler output (<c>-S</c>) assembled by <see cref="LlvmAssembler"/> gives the code clang itself puts
/// in the object (<c>-c</c>), up to what the object leaves to relocations.
/// </summary>
public sealed class ClangAssemblyTests(ITestOutputHelper output)
{
    private static readonly string SourceDir = Path.Combine(BpfSharp.Testing.TestPaths.RepoRoot, "tests", "BpfSharp.Isa.Tests", "golden", "c");
    private static readonly string? Clang = FindClang();

    private static string? FindClang()
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator))
            if (dir.Length > 0 && File.Exists(Path.Combine(dir, "clang-19"))) return Path.Combine(dir, "clang-19");
        return null;
    }

    [Fact]
    public void Clang_assembly_of_calls_c_matches_the_object_code()
    {
        if (Clang is null)
        {
            output.WriteLine("SKIPPED: clang-19 not installed (apt-get install clang-19)");
            return;
        }
        var dir = Directory.CreateTempSubdirectory("bpfsharp-clang-");
        try
        {
            string src = Path.Combine(SourceDir, "calls.c");
            LlvmTools.Run(Clang, dir.FullName, "-target", "bpf", "-O2", "-mcpu=v4", "-S", src, "-o", "calls.s");
            LlvmTools.Run(Clang, dir.FullName, "-target", "bpf", "-O2", "-mcpu=v4", "-c", src, "-o", "calls.o");
            string asm = File.ReadAllText(Path.Combine(dir.FullName, "calls.s"));
            var program = LlvmAssembler.Assemble(asm);

            // The assembler lays instructions out in text order: order the object's sections by their first function.
            var sections = MiniElf.ReadCodeSections(File.ReadAllBytes(Path.Combine(dir.FullName, "calls.o")));
            var ordered = sections.OrderBy(s => asm.IndexOf("\n" + s.SymbolsBySlot[0] + ":", StringComparison.Ordinal)).ToList();
            var objectSlots = ordered.SelectMany(s => RawInstruction.FromBytes(s.Bytes).ToArray()).ToArray();
            Assert.Equal(objectSlots.Length, program.Count);
            int relocated = 0;
            for (int pc = 0; pc < program.Count; pc++)
            {
                var ours = program.Raw[pc];
                var theirs = objectSlots[pc];
                switch (program[pc].Op)
                {
                    case Op.CallLocal:
                        // The object holds src=1, imm=-1 and a relocation naming the callee; we resolved the label.
                        Assert.Equal(theirs.Opcode, ours.Opcode);
                        Assert.Equal(theirs.Src, ours.Src);
                        Assert.Contains(program[pc].JumpTarget(pc), program.FunctionStarts);
                        relocated++;
                        break;
                    case Op.LddwFunc:
                        // The object holds "r = 0 ll" and a relocation; we resolved the function's address.
                        Assert.Equal(theirs.Opcode, ours.Opcode);
                        Assert.Equal(theirs.Dst, ours.Dst);
                        Assert.Contains(program[pc].JumpTarget(pc), program.FunctionStarts);
                        pc++;
                        relocated++;
                        break;
                    default:
                        Assert.True(theirs == ours, $"slot {pc}: object has {theirs}, we assembled {ours} ({LlvmDisassembler.Format(program[pc], pc)})");
                        break;
                }
            }
            output.WriteLine($"{program.Count} slots match clang's object code; {relocated} relocated references resolved to function starts {string.Join(",", program.FunctionStarts)}");
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Clang_assembly_referring_to_globals_is_rejected_with_the_symbol_named()
    {
        if (Clang is null)
        {
            output.WriteLine("SKIPPED: clang-19 not installed");
            return;
        }
        var dir = Directory.CreateTempSubdirectory("bpfsharp-clang-");
        try
        {
            LlvmTools.Run(Clang, dir.FullName, "-target", "bpf", "-O2", "-mcpu=v4", "-S", Path.Combine(SourceDir, "features_v4.c"), "-o", "f.s");
            var e = Assert.Throws<AsmException>(() => LlvmAssembler.Assemble(File.ReadAllText(Path.Combine(dir.FullName, "f.s"))));
            Assert.Contains("is a data symbol", e.Message, StringComparison.Ordinal);
            Assert.True(e.Line > 0);
            output.WriteLine(e.Message);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
