using System.Runtime.InteropServices;
using System.Text;
using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Verifier.Tests.Analysis;

/// <summary>
/// The Linux verifier as an independent oracle: every privileged program of <see cref="SafetyCheckTests"/> is loaded
/// with bpf(BPF_PROG_LOAD) and must get the same verdict from the kernel as from us. Skips (with a message) when the
/// bpf() system call is unavailable (not Linux, not root, seccomp).
/// </summary>
public sealed class KernelOracleTests(ITestOutputHelper output)
{
    internal static class Native
    {
        private const long SysBpf = 321; // x86-64
        private const int MapCreate = 0, ProgLoad = 5;

        [DllImport("libc", SetLastError = true)]
        private static extern long syscall(long number, int cmd, byte[] attr, uint size);

        [DllImport("libc", SetLastError = true)]
        public static extern int close(int fd);

        public static int CreateMap(VerifierMap map)
        {
            var attr = new byte[128];
            BitConverter.TryWriteBytes(attr.AsSpan(0), (uint)map.Kind);
            BitConverter.TryWriteBytes(attr.AsSpan(4), (uint)map.KeySize);
            BitConverter.TryWriteBytes(attr.AsSpan(8), (uint)map.ValueSize);
            BitConverter.TryWriteBytes(attr.AsSpan(12), (uint)map.MaxEntries);
            return (int)syscall(SysBpf, MapCreate, attr, (uint)attr.Length);
        }

        public static (int Fd, string Log) LoadProgram(ProgramType type, byte[] code) => LoadProgram((uint)type, code, "GPL");

        public static unsafe (int Fd, string Log) LoadProgram(uint type, byte[] code, string licenseText)
        {
            var log = new byte[1 << 22];
            byte[] license = Encoding.UTF8.GetBytes(licenseText + "\0");
            fixed (byte* insns = code)
            fixed (byte* lic = license)
            fixed (byte* buf = log)
            {
                var attr = new byte[144];
                BitConverter.TryWriteBytes(attr.AsSpan(0), type);
                BitConverter.TryWriteBytes(attr.AsSpan(4), (uint)(code.Length / 8));
                BitConverter.TryWriteBytes(attr.AsSpan(8), (ulong)insns);
                BitConverter.TryWriteBytes(attr.AsSpan(16), (ulong)lic);
                BitConverter.TryWriteBytes(attr.AsSpan(24), 1u);              // log_level
                BitConverter.TryWriteBytes(attr.AsSpan(28), (uint)log.Length);
                BitConverter.TryWriteBytes(attr.AsSpan(32), (ulong)buf);
                int fd = (int)syscall(SysBpf, ProgLoad, attr, (uint)attr.Length);
                int end = Array.IndexOf(log, (byte)0);
                return (fd, Encoding.UTF8.GetString(log, 0, end < 0 ? log.Length : end));
            }
        }
    }

    private static readonly VerifierMap[] Maps =
    [
        new(VerifierMapKind.Hash, 4, 8, 16), new(VerifierMapKind.Array, 4, 16, 4),
        new(VerifierMapKind.RingBuf, 0, 0, 4096), new(VerifierMapKind.ProgArray, 4, 4, 4),
    ];

    [Fact]
    public void Kernel_gives_the_same_verdicts_as_the_verifier()
    {
        if (!OperatingSystem.IsLinux())
        {
            output.WriteLine("SKIPPED: not Linux");
            return;
        }
        int[] fds = Maps.Select(Native.CreateMap).ToArray();
        try
        {
            if (fds.Any(fd => fd < 0))
            {
                output.WriteLine($"SKIPPED: bpf(BPF_MAP_CREATE) failed (errno {Marshal.GetLastPInvokeError()}); needs root and the bpf() system call");
                return;
            }
            int compared = 0, sameMessage = 0;
            var disagreements = new List<string>();
            foreach (SafetyCheckTests.Case c in SafetyCheckTests.Cases.Where(c => c.Privileged))
            {
                BpfProgram program = Assembler.Assemble(c.Asm, AsmSyntax.Conformance, c.Name);
                byte[] code = WithMapFds(program, fds);
                var (fd, log) = Native.LoadProgram(c.Type, code);
                if (fd >= 0)
                    _ = Native.close(fd);
                VerificationResult ours = SafetyCheckTests.Verify(c);
                compared++;
                bool kernelAccepts = fd >= 0;
                if (kernelAccepts != ours.Accepted)
                    disagreements.Add($"{c.Name}: kernel {(kernelAccepts ? "accepts" : "rejects: " + LastLines(log))}; we {(ours.Accepted ? "accept" : "reject: " + ours.Error!.Message)}");
                else if (!ours.Accepted && log.Contains(ours.Error!.Message, StringComparison.Ordinal))
                    sameMessage++;
                else if (!ours.Accepted)
                    output.WriteLine($"message differs for '{c.Name}': ours '{ours.Error!.Message}', kernel '{LastLines(log)}'");
            }
            output.WriteLine($"{compared} programs compared with the kernel, {compared - disagreements.Count} same verdict, {sameMessage} rejections with the kernel's exact message");
            Assert.True(disagreements.Count == 0, string.Join("\n", disagreements));
        }
        finally
        {
            foreach (int fd in fds.Where(fd => fd >= 0))
                _ = Native.close(fd);
        }
    }

    private static string LastLines(string log)
    {
        string[] lines = log.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        return string.Join(" | ", lines.Skip(Math.Max(0, lines.Length - 2)));
    }

    // lddw map_fd(i) carries our map index; the kernel wants the file descriptor.
    private static byte[] WithMapFds(BpfProgram program, int[] fds)
    {
        ReadOnlySpan<RawInstruction> raw = program.Raw;
        var patched = new RawInstruction[raw.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            RawInstruction r = raw[i];
            bool mapLoad = r.Opcode == 0x18 && r.Src == 1 && r.Imm >= 0 && r.Imm < fds.Length;
            patched[i] = mapLoad ? new RawInstruction(r.Opcode, r.Dst, r.Src, r.Offset, fds[r.Imm]) : r;
        }
        return RawInstruction.ToBytes(patched).ToArray();
    }
}
