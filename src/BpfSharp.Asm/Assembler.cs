using BpfSharp.Isa;

namespace BpfSharp.Asm;

/// <summary>Entry point for assembling text in either syntax.</summary>
public static class Assembler
{
    /// <summary>Assembles text; throws <see cref="AsmException"/> naming line and column.</summary>
    public static BpfProgram Assemble(string text, AsmSyntax syntax, string name = "prog") => syntax switch
    {
        AsmSyntax.Conformance => ConformanceAssembler.Assemble(text, name),
        _ => throw new AsmException("the LLVM syntax assembler is not available in this build", 0, 0),
    };

    /// <summary>
    /// Guesses the syntax of assembler text: the conformance syntax writes registers as <c>%rN</c> and uses mnemonics
    /// first; the LLVM syntax writes <c>rN = ...</c>.
    /// </summary>
    public static AsmSyntax DetectSyntax(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return text.Contains("%r", StringComparison.Ordinal) || !text.Contains('=', StringComparison.Ordinal) && !text.Contains("goto", StringComparison.Ordinal)
            ? AsmSyntax.Conformance
            : AsmSyntax.Llvm;
    }
}

/// <summary>Entry point for disassembling in either syntax.</summary>
public static class Disassembler
{
    /// <summary>Disassembles a program, one instruction per line.</summary>
    public static string Disassemble(BpfProgram program, AsmSyntax syntax) => syntax switch
    {
        AsmSyntax.Conformance => ConformanceDisassembler.Disassemble(program),
        _ => throw new AsmException("the LLVM syntax disassembler is not available in this build", 0, 0),
    };
}
