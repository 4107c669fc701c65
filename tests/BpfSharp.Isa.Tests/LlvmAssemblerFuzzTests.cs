using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Isa.Tests;

/// <summary>Bad text: mutated disassembly is assembled or rejected with an <see cref="AsmException"/> with a position, never anything else.</summary>
public sealed class LlvmAssemblerFuzzTests(ITestOutputHelper output)
{
    private const string Alphabet = " \t\n+-*/%=<>!&|^()[],:;#0123456789abcdefxlrwsuk_.@$\"'~?";

    [Fact]
    public void Mutated_source_assembles_or_fails_with_a_positioned_error()
    {
        var rng = new Random(31337);
        int assembled = 0, rejected = 0;
        for (int round = 0; round < 10_000; round++)
        {
            var program = BpfProgram.FromInstructions(RandomPrograms.Generate(rng, rng.Next(1, 12)));
            var options = new LlvmDisassemblyOptions { Lossless = rng.Next(2) == 0, Alu32Registers = rng.Next(2) == 0 };
            var text = LlvmDisassembler.Disassemble(program, options).ToCharArray().ToList();
            int edits = rng.Next(1, 5);
            for (int e = 0; e < edits && text.Count > 0; e++)
            {
                int at = rng.Next(text.Count);
                switch (rng.Next(3))
                {
                    case 0: text[at] = Alphabet[rng.Next(Alphabet.Length)]; break;
                    case 1: text.RemoveAt(at); break;
                    default: text.Insert(at, Alphabet[rng.Next(Alphabet.Length)]); break;
                }
            }
            string source = new([.. text]);
            try
            {
                LlvmAssembler.Assemble(source);
                assembled++;
            }
            catch (AsmException e)
            {
                rejected++;
                int lines = source.Split('\n').Length;
                Assert.True(e.Line > 0 || e.Reason == "no instructions", $"no position: {e.Message}\n{source}");
                Assert.InRange(e.Line, 0, lines);
                if (e.Line > 0) Assert.InRange(e.Column, 1, source.Split('\n')[e.Line - 1].Length + 1);
            }
        }
        output.WriteLine($"10000 mutated sources: {assembled} assembled, {rejected} rejected with a line and column");
        Assert.True(rejected > 1000);
    }
}
