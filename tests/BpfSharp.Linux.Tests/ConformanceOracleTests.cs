using BpfSharp.Asm;
using BpfSharp.Isa;
using BpfSharp.Linux;
using BpfSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Linux.Tests;

/// <summary>
/// The kernel as oracle, checked against the conformance suite: every suite program the kernel verifier accepts
/// must produce the suite's expected r0 when run in the kernel (PROG_TEST_RUN through
/// <see cref="KernelOracle.RunWithMemory"/>). Programs the verifier rejects are listed with the kernel's reason.
/// </summary>
public class ConformanceOracleTests(ITestOutputHelper output)
{
    [KernelFact]
    public void Kernel_results_match_the_conformance_suite_for_every_program_it_accepts()
    {
        if (!Directory.Exists(ConformanceCases.Directory))
        {
            output.WriteLine("SKIP: no conformance data at " + ConformanceCases.Directory);
            return;
        }
        int total = 0, accepted = 0, agreed = 0, interpreterAgreed = 0, skippedHelper = 0;
        var rejected = new Dictionary<string, List<string>>();
        var disagreements = new List<string>();
        foreach (object[] row in ConformanceCases.Names())
        {
            string name = (string)row[0];
            var file = ConformanceCases.Load(name);
            if (file.Error is not null || file.Result is null || file.Asm is null)
                continue;
            RawInstruction[] insns;
            try
            {
                insns = ConformanceAssembler.Assemble(file.Asm, name).Raw.ToArray();
            }
            catch (Exception)
            {
                continue;
            }
            // Helper 5 is the suite's private "unwind" helper (bpf_ktime_get_ns in the kernel): not comparable.
            if (insns.Any(i => i.Opcode == 0x85 && i.Src == 0 && i.Imm == 5))
            {
                skippedHelper++;
                continue;
            }
            total++;
            var r = KernelOracle.RunWithMemory(insns, file.Memory);
            if (!r.Accepted)
            {
                string reason = r.Summary.Length > 90 ? r.Summary[..90] : r.Summary;
                if (!rejected.TryGetValue(reason, out var names))
                    rejected[reason] = names = [];
                names.Add(name);
                continue;
            }
            accepted++;
            // Differential: the userspace interpreter must give the kernel's answer on the same program and memory.
            ulong interpreted;
            try
            {
                interpreted = BpfSharp.Runtime.ConformanceRunner.Run(ConformanceAssembler.Assemble(file.Asm, name), file.Memory);
            }
            catch (Exception e)
            {
                disagreements.Add($"{name}: kernel 0x{r.Result:x}, interpreter threw {e.GetType().Name}: {e.Message}");
                continue;
            }
            if (interpreted == r.Result)
                interpreterAgreed++;
            else
                disagreements.Add($"{name}: kernel 0x{r.Result:x}, interpreter 0x{interpreted:x}");
            if (r.Result == file.Result.Value)
                agreed++;
            else
                disagreements.Add($"{name}: kernel 0x{r.Result:x}, suite 0x{file.Result.Value:x}");
        }
        output.WriteLine($"{total} conformance programs (+{skippedHelper} using the suite-only helper): kernel accepted {accepted}, results agree with the suite {agreed}, with the userspace interpreter {interpreterAgreed}");
        foreach (var (reason, names) in rejected.OrderByDescending(kv => kv.Value.Count))
            output.WriteLine($"  rejected x{names.Count}: {reason}  [{string.Join(", ", names.Take(6))}{(names.Count > 6 ? ", ..." : "")}]");
        foreach (string d in disagreements)
            output.WriteLine("  DISAGREE " + d);
        Assert.True(accepted > total / 2, $"kernel accepted only {accepted} of {total}");
        Assert.Empty(disagreements);
    }

    [KernelFact]
    public void Run_with_memory_passes_r1_r2_and_returns_64_bits()
    {
        // r0 = *(u64 *)(r1 + 0) + r2  with memory = 8 bytes 0x1122334455667788 -> 0x1122334455667790.
        RawInstruction[] prog = [new(0x79, 0, 1, 0, 0), new(0x0f, 0, 2, 0, 0), new(0x95, 0, 0, 0, 0)];
        var r = KernelOracle.RunWithMemory(prog, [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11]);
        Assert.True(r.Accepted, r.Summary);
        Assert.Equal(0x1122334455667790ul, r.Result);
        var bad = KernelOracle.RunWithMemory([new(0x95, 0, 0, 0, 0)], []);
        Assert.False(bad.Accepted);
        Assert.Contains("R0 !read_ok", bad.Summary);
    }
}
