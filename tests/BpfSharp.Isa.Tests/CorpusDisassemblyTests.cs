using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Isa.Tests;

/// <summary>
/// Real-world objects (Cilium, Falco, Suricata, ... in ../shared/verifier-corpus): our disassembly of every code
/// section agrees line for line with llvm-objdump-19 --mcpu=v4, and llvm-objdump's text assembles back to the
/// section bytes (up to the relocated local calls and pseudo lddw that its text does not show).
/// </summary>
public sealed class CorpusDisassemblyTests(ITestOutputHelper output)
{
    [Fact]
    public void Corpus_objects_disassemble_like_llvm_objdump()
    {
        var corpus = BpfSharp.Testing.TestPaths.Shared("verifier-corpus");
        if (corpus is null || LlvmTools.Objdump is null)
        {
            output.WriteLine("SKIPPED: needs ../shared/verifier-corpus and llvm-objdump-19");
            return;
        }
        int objects = 0, lines = 0, reassembled = 0, notSelfContained = 0, withUnknown = 0;
        var skipped = new List<string>();
        var mismatches = new List<string>();
        foreach (var path in Directory.GetFiles(corpus, "*.o", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string rel = Path.GetRelativePath(corpus, path);
            List<MiniElf.CodeSection> sections;
            string listing;
            try
            {
                sections = MiniElf.ReadCodeSections(File.ReadAllBytes(path));
                listing = LlvmTools.Run(LlvmTools.Objdump, Path.GetDirectoryName(path)!, "-d", "--no-show-raw-insn", "--mcpu=v4", Path.GetFileName(path));
            }
            catch (Exception e) when (e is InvalidDataException or InvalidOperationException)
            {
                skipped.Add($"{rel}: {e.Message.Split('\n')[0]}");   // not a BPF ELF64 little-endian object
                continue;
            }
            objects++;
            var expected = Listing.Parse(listing);
            var actual = new List<ListingLine>();
            foreach (var section in sections)
            {
                var text = LlvmDisassembler.Disassemble(RawInstruction.FromBytes(section.Bytes),
                    new LlvmDisassemblyOptions { Alu32Registers = true, Symbols = section.SymbolsBySlot }, section.Name);
                actual.AddRange(Listing.Parse(text, section: section.Name));
            }
            int n = Math.Min(expected.Count, actual.Count);
            for (int i = 0; i < n; i++)
            {
                if (expected[i].ToString() != actual[i].ToString() && mismatches.Count < 20)
                    mismatches.Add($"{rel} [{expected[i].Section}] expected '{expected[i]}', got '{actual[i]}'");
            }
            if (expected.Count != actual.Count) mismatches.Add($"{rel}: {expected.Count} listing lines, we printed {actual.Count}");
            lines += expected.Count(l => !l.IsHeader);

            // llvm-objdump's text assembles back, section by section, where it decodes as a program.
            foreach (var section in sections)
            {
                var sectionLines = expected.Where(l => l.Section == section.Name).ToList();
                if (sectionLines.Any(l => l.Text == "<unknown>")) { withUnknown++; continue; }
                BpfProgram program;
                try
                {
                    program = LlvmAssembler.Assemble(Listing.ToSource(sectionLines));
                }
                catch (AsmException e) when (e.Reason.Contains("outside the program", StringComparison.Ordinal) || e.Reason.Contains("middle of an lddw", StringComparison.Ordinal))
                {
                    notSelfContained++;   // unrelocated cross-section references: not a self-contained program
                    continue;
                }
                Assert.True(ObjdumpLoss.ApplyToBytes(section.Bytes).AsSpan().SequenceEqual(program.ToBytes()), $"{rel} [{section.Name}] does not assemble back");
                reassembled++;
            }
        }
        foreach (var s in skipped) output.WriteLine("skipped " + s);
        foreach (var m in mismatches) output.WriteLine(m);
        output.WriteLine($"{objects} objects, {lines} instruction lines compared; {mismatches.Count} mismatches; {reassembled} sections reassembled from llvm-objdump's text ({notSelfContained} not self-contained, {withUnknown} with <unknown> slots)");
        Assert.Empty(mismatches);
        Assert.True(objects > 100);
    }
}
