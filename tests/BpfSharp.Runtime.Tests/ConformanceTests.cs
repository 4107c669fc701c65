using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Runtime;
using BpfSharp.Testing;
using Xunit;

namespace BpfSharp.Runtime.Tests;

public unsafe class ConformanceTests
{
    public static IEnumerable<object[]> Cases() => ConformanceCases.Names();

    [Fact]
    public void Suite_has_all_313_tests() => Assert.Equal(313, Cases().Count());

    [Theory]
    [MemberData(nameof(Cases))]
    public void Interpreter_passes(string name)
    {
        var test = ConformanceCases.Load(name);
        var program = ConformanceAssembler.Assemble(test.Asm!, name);
        if (test.Raw is { } raw) Assert.Equal(raw, program.ToBytes());
        Assert.NotNull(test.Result);
        ulong result = ConformanceRunner.Run(program, test.Memory);
        Assert.Equal(test.Result!.Value, result);
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Conformance_disassembly_reassembles_to_the_same_bytes(string name)
    {
        var test = ConformanceCases.Load(name);
        var program = ConformanceAssembler.Assemble(test.Asm!, name);
        var text = ConformanceDisassembler.Disassemble(program);
        Assert.Equal(program.ToBytes(), ConformanceAssembler.Assemble(text).ToBytes());
    }
}
