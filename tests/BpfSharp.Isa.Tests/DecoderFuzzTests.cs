using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Isa.Tests;

/// <summary>
/// Bad input: randomly mutated and truncated programs are either decoded or rejected with a
/// <see cref="BpfDecodeException"/> naming an instruction index, never with any other exception.
/// </summary>
public sealed class DecoderFuzzTests(ITestOutputHelper output)
{
    [Fact]
    public void Mutated_and_truncated_programs_decode_or_fail_with_an_indexed_error()
    {
        var rng = new Random(99);
        int accepted = 0, rejected = 0;
        var reasons = new Dictionary<string, int>();
        for (int round = 0; round < 10_000; round++)
        {
            byte[] bytes = Mutate(BpfProgram.FromInstructions(RandomPrograms.Generate(rng, rng.Next(1, 40))).ToBytes(), rng);
            int slotCount = bytes.Length / RawInstruction.Size;
            BpfProgram? program = null;
            try
            {
                program = Decoder.Decode(bytes);
            }
            catch (BpfDecodeException e)
            {
                rejected++;
                if (bytes.Length == 0) Assert.Equal(-1, e.InstructionIndex);
                else Assert.InRange(e.InstructionIndex, 0, slotCount);   // == slotCount only for a trailing partial slot
                Assert.StartsWith(e.InstructionIndex >= 0 ? $"instruction {e.InstructionIndex}: " : "", e.Message, StringComparison.Ordinal);
                string kind = e.Error.Message.Split(' ')[0] + " " + e.Error.Message.Split(' ').ElementAtOrDefault(1);
                reasons[kind] = reasons.GetValueOrDefault(kind) + 1;
            }
            // Whatever the outcome, raw-slot disassembly of the whole slots must not throw.
            _ = LlvmDisassembler.Disassemble(RawInstruction.FromBytes(bytes), new LlvmDisassemblyOptions { Lossless = true });
            if (program is null) continue;
            accepted++;
            // An accepted program is exactly its bytes: re-encoding the decoded instructions gives them back,
            // and so does printing and re-assembling it.
            Assert.Equal(bytes, Encoder.ToBytes(program.Instructions));
            string text = LlvmDisassembler.Disassemble(program, new LlvmDisassemblyOptions { Lossless = true });
            Assert.Equal(bytes, LlvmAssembler.Assemble(text).ToBytes());
        }
        Assert.Equal(10_000, accepted + rejected);
        Assert.True(rejected > 1000 && accepted > 500, $"mutations should produce both outcomes (accepted {accepted}, rejected {rejected})");
        output.WriteLine($"10000 mutated programs: {accepted} decoded, {rejected} rejected with an indexed DecodeError");
        foreach (var (k, v) in reasons.OrderByDescending(kv => kv.Value)) output.WriteLine($"  {v,5}  {k}...");
    }

    private static byte[] Mutate(byte[] bytes, Random rng)
    {
        var list = bytes.ToList();
        int mutations = rng.Next(1, 4);
        for (int m = 0; m < mutations; m++)
        {
            switch (rng.Next(7))
            {
                case 0 when list.Count > 0: // flip a random bit
                    int i = rng.Next(list.Count);
                    list[i] ^= (byte)(1 << rng.Next(8));
                    break;
                case 1 when list.Count > 0: // random byte
                    list[rng.Next(list.Count)] = (byte)rng.Next(256);
                    break;
                case 2 when list.Count > 0: // truncate anywhere, sometimes mid-slot
                    int cut = rng.Next(list.Count + 1);
                    list.RemoveRange(cut, list.Count - cut);
                    break;
                case 3 when list.Count >= 8: // drop a whole slot (shifts jump targets and splits lddw)
                    list.RemoveRange(rng.Next(list.Count / 8) * 8, 8);
                    break;
                case 4 when list.Count >= 8: // random offset field of a slot
                    int s = rng.Next(list.Count / 8) * 8;
                    list[s + 2] = (byte)rng.Next(256);
                    list[s + 3] = (byte)(rng.Next(2) == 0 ? 0 : rng.Next(256));
                    break;
                case 5 when list.Count >= 8: // random register byte
                    list[rng.Next(list.Count / 8) * 8 + 1] = (byte)rng.Next(256);
                    break;
                default: // random opcode byte
                    if (list.Count >= 8) list[rng.Next(list.Count / 8) * 8] = (byte)rng.Next(256);
                    break;
            }
        }
        return [.. list];
    }
}
