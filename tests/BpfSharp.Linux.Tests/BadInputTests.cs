using BpfSharp.Isa;
using BpfSharp.Linux;
using Xunit;
using static BpfSharp.Linux.Tests.I;

namespace BpfSharp.Linux.Tests;

/// <summary>Bad input gets a typed error naming what and where, never a crash.</summary>
public class BadInputTests
{
    [KernelFact]
    public void Wrong_program_type_for_a_hook_is_an_invalid_operation()
    {
        using var xdp = KernelProgram.Load([Mov(R0, 2), Exit()], BpfProgramType.Xdp);
        var ex = Assert.Throws<InvalidOperationException>(() => xdp.AttachRawTracepoint("sched_switch"));
        Assert.Contains("Xdp", ex.Message);
        Assert.Contains("RawTracepoint", ex.Message);
    }

    [KernelFact]
    public void Empty_program_and_tiny_packet_are_rejected_with_reasons()
    {
        Assert.Throws<ArgumentException>(() => KernelProgram.Load(ReadOnlySpan<RawInstruction>.Empty, BpfProgramType.Xdp));
        using var xdp = KernelProgram.Load([Mov(R0, 2), Exit()], BpfProgramType.Xdp);
        var ex = Assert.Throws<BpfException>(() => xdp.TestRun(new byte[4]));
        Assert.Equal("BPF_PROG_TEST_RUN", ex.Operation);
        Assert.Equal(Errnos.EINVAL, ex.Errno);
        Assert.Contains("14 bytes", ex.Message);
    }

    [KernelFact]
    public void Disposed_handles_throw_object_disposed()
    {
        var map = KernelMap.Create(BpfMapType.Array, 4, 4, 1);
        map.Dispose();
        Assert.Throws<ObjectDisposedException>(() => map.Update(0u, 1u));
    }

    [KernelFact]
    public void Missing_tracepoint_and_raw_tracepoint_are_reported()
    {
        using var tp = KernelProgram.Load([Mov(R0, 0), Exit()], BpfProgramType.Tracepoint);
        var ex = Assert.Throws<BpfNotSupportedException>(() => tp.AttachTracepoint("sched", "no_such_event"));
        Assert.Contains("sched:no_such_event", ex.Message);
        using var raw = KernelProgram.Load([Mov(R0, 0), Exit()], BpfProgramType.RawTracepoint);
        var rex = Assert.Throws<BpfException>(() => raw.AttachRawTracepoint("no_such_tracepoint"));
        Assert.Equal("BPF_RAW_TRACEPOINT_OPEN", rex.Operation);
        Assert.Contains("no_such_tracepoint", rex.Message);
        Assert.Throws<BpfNotSupportedException>(() => KernelProgram.LoadTpBtf([Mov(R0, 0), Exit()], "no_such_tracepoint"));
    }

    [Fact]
    public void Elf_symbol_lookup_names_the_problem()
    {
        string notElf = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(notElf, new byte[100]);
            var ex = Assert.Throws<InvalidDataException>(() => ElfSymbols.FileOffsetOf(notElf, "main"));
            Assert.Contains("offset 0", ex.Message);
            // A truncated ELF header claiming section headers beyond the end of the file.
            byte[] truncated = new byte[64];
            truncated[0] = 0x7F; truncated[1] = (byte)'E'; truncated[2] = (byte)'L'; truncated[3] = (byte)'F';
            truncated[4] = 2; truncated[5] = 1;
            BitConverter.GetBytes(4096ul).CopyTo(truncated, 40);   // e_shoff
            BitConverter.GetBytes((ushort)64).CopyTo(truncated, 58);
            BitConverter.GetBytes((ushort)1).CopyTo(truncated, 60);
            File.WriteAllBytes(notElf, truncated);
            var t = Assert.Throws<InvalidDataException>(() => ElfSymbols.FileOffsetOf(notElf, "main"));
            Assert.Contains("section header 0", t.Message);
        }
        finally
        {
            File.Delete(notElf);
        }
        if (OperatingSystem.IsLinux())
            Assert.Throws<KeyNotFoundException>(() => ElfSymbols.FileOffsetOf(ElfSymbols.LibcPath(), "no_such_function_xyz"));
    }

    [Fact]
    public void Corrupt_btf_is_rejected_with_offsets()
    {
        var ex = Assert.Throws<InvalidDataException>(() => new KernelBtf(new byte[10]));
        Assert.Contains("magic", ex.Message);
        byte[] blob = BpfFeatures.MinimalIntBtf();
        blob[12] = 200;   // type_len beyond the blob
        var big = Assert.Throws<InvalidDataException>(() => new KernelBtf(blob));
        Assert.Contains("exceed", big.Message);
    }
}
