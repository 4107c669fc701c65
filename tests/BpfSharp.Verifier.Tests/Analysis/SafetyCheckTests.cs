using BpfSharp.Asm;
using BpfSharp.Isa;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Verifier.Tests.Analysis;

/// <summary>
/// One hand-written unsafe program per safety check, rejected with the kernel's wording, and its safe twin accepted.
/// Expected messages follow the Linux verifier's (kernel/bpf/verifier.c) text for the same condition.
/// </summary>
public sealed class SafetyCheckTests(ITestOutputHelper output)
{
    // Map 0: hash, 4-byte key, 8-byte value. Map 1: array, 4-byte key, 16-byte value. Map 2: ring buffer.
    // Map 3: program array.
    private static readonly VerifierMap[] Maps =
    [
        new(VerifierMapKind.Hash, 4, 8, 16, "hash"),
        new(VerifierMapKind.Array, 4, 16, 4, "array"),
        new(VerifierMapKind.RingBuf, 0, 0, 4096, "events"),
        new(VerifierMapKind.ProgArray, 4, 4, 4, "jumps"),
    ];

    public sealed record Case(string Name, string Asm, string? Error, ProgramType Type = ProgramType.SocketFilter, bool Privileged = true)
    {
        public override string ToString() => Name;
    }

    private const string LookupMap0 = """
        stw [%r10-4], 0
        mov %r2, %r10
        add %r2, -4
        lddw %r1, map_fd(0)
        call 1
        """;

    private const string XdpPacketStart = """
        ldxw %r2, [%r1+0]
        ldxw %r3, [%r1+4]
        mov %r4, %r2
        add %r4, 4
        """;

    public static readonly Case[] Cases =
    [
        // Uninitialized registers.
        new("exit with R0 unset", "exit", "R0 !read_ok"),
        new("exit with R0 set", "mov %r0, 0\nexit", null),
        new("read of unset R2", "mov %r0, %r2\nexit", "R2 !read_ok"),
        new("read of set R2", "mov %r2, 1\nmov %r0, %r2\nexit", null),
        new("R1-R5 unreadable after a helper call", "call 5\nmov %r0, %r1\nexit", "R1 !read_ok"),
        new("R6 survives a helper call", "mov %r6, 1\ncall 5\nmov %r0, %r6\nexit", null),

        // Stack bounds, alignment, initialization, spill/fill.
        new("stack write below the frame", "stdw [%r10-520], 0\nmov %r0, 0\nexit", "invalid write to stack R10 off=-520 size=8"),
        new("stack write at the bottom of the frame", "stdw [%r10-512], 0\nmov %r0, 0\nexit", null),
        new("stack write above the frame pointer", "stw [%r10], 1\nmov %r0, 0\nexit", "invalid write to stack R10 off=0 size=4"),
        new("misaligned stack store", "stdw [%r10-4], 0\nmov %r0, 0\nexit", "misaligned stack access off 0+0+-4 size 8"),
        new("aligned stack store", "stdw [%r10-8], 0\nmov %r0, 0\nexit", null),
        new("read of uninitialized stack", "ldxdw %r0, [%r10-8]\nexit", "invalid read from stack R10 off -8+0 size 8", Privileged: false),
        new("privileged read of uninitialized stack", "ldxdw %r0, [%r10-8]\nexit", null),
        new("read of initialized stack", "stdw [%r10-8], 7\nldxdw %r0, [%r10-8]\nexit", null),
        new("read of half-initialized stack", "stw [%r10-8], 0\nldxdw %r0, [%r10-8]\nexit", "invalid read from stack R10 off -8+4 size 8", Privileged: false),
        new("spilled ctx pointer filled and used", "stxdw [%r10-8], %r1\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nexit", null),
        new("spilled pointer partly overwritten, then used", "stxdw [%r10-8], %r1\nstw [%r10-8], 0\nldxdw %r2, [%r10-8]\nldxw %r0, [%r2+0]\nexit",
            "R2 invalid mem access 'scalar'"),
        new("variable-offset stack store", "ldxw %r2, [%r1+0]\nand %r2, 7\nmov %r3, %r10\nadd %r3, -16\nadd %r3, %r2\nstb [%r3+0], 0\nmov %r0, 0\nexit", null),
        new("variable-offset stack store past the frame", "ldxw %r2, [%r1+0]\nand %r2, 15\nmov %r3, %r10\nadd %r3, -8\nadd %r3, %r2\nstb [%r3+0], 0\nmov %r0, 0\nexit",
            "invalid variable-offset write to stack R3"),

        // Context.
        new("context read past the fields", "ldxw %r0, [%r1+1000]\nexit", "invalid bpf_context access off=1000 size=4"),
        new("context read of skb->len", "ldxw %r0, [%r1+0]\nexit", null),
        new("context write of read-only skb->len", "stw [%r1+0], 1\nmov %r0, 0\nexit", "invalid bpf_context access off=0 size=4"),
        new("context write of skb->cb[0]", "stw [%r1+48], 1\nmov %r0, 0\nexit", null),
        new("socket filter reading skb->data", "ldxw %r0, [%r1+76]\nexit", "invalid bpf_context access off=76 size=4"),
        new("tc program reading skb->data", "ldxw %r0, [%r1+76]\nmov %r0, 0\nexit", null, ProgramType.SchedCls),
        new("modified context pointer", "add %r1, 4\nldxw %r0, [%r1+0]\nexit", "dereference of modified ctx ptr R1 off=4 disallowed"),
        new("context field by offset", "ldxw %r0, [%r1+4]\nexit", null),
        new("xdp narrow read of data pointer", "ldxh %r0, [%r1+0]\nmov %r0, 0\nexit", "invalid bpf_context access off=0 size=2", ProgramType.Xdp),
        new("kprobe write to pt_regs", "stdw [%r1+0], 0\nmov %r0, 0\nexit", "invalid bpf_context access off=0 size=8", ProgramType.Kprobe),
        new("kprobe read of pt_regs", "ldxdw %r0, [%r1+112]\nexit", null, ProgramType.Kprobe),

        // Map values and null checks.
        new("map value used without a null check", LookupMap0 + "\nldxdw %r0, [%r0+0]\nexit", "R0 invalid mem access 'map_value_or_null'"),
        new("map value used after a null check", LookupMap0 + "\njeq %r0, 0, +1\nldxdw %r0, [%r0+0]\nmov %r0, 0\nexit", null),
        new("null check on a copy refines the original", LookupMap0 + "\nmov %r6, %r0\njeq %r6, 0, +1\nldxdw %r0, [%r0+0]\nmov %r0, 0\nexit", null),
        new("map value read past the value", LookupMap0 + "\njeq %r0, 0, +1\nldxdw %r0, [%r0+8]\nmov %r0, 0\nexit",
            "invalid access to map value, value_size=8 off=8 size=8"),
        new("map value with unbounded variable offset", "mov %r6, %r1\n" + LookupMap0 + "\njeq %r0, 0, +4\nldxw %r2, [%r6+0]\nadd %r0, %r2\nldxb %r0, [%r0+0]\nmov %r0, 0\nexit",
            "R0 unbounded memory access, make sure to bounds check any such access"),
        new("map value with masked variable offset", "mov %r6, %r1\n" + LookupMap0 + "\njeq %r0, 0, +5\nldxw %r2, [%r6+0]\nand %r2, 7\nadd %r0, %r2\nldxb %r0, [%r0+0]\nmov %r0, 0\nexit", null),
        new("map value with bounds-checked offset", "mov %r6, %r1\n" + LookupMap0 + "\njeq %r0, 0, +5\nldxw %r2, [%r6+0]\njgt %r2, 7, +3\nadd %r0, %r2\nldxb %r0, [%r0+0]\nmov %r0, 0\nmov %r0, 0\nexit", null),
        new("map value with off-by-one bound", "mov %r6, %r1\n" + LookupMap0 + "\njeq %r0, 0, +5\nldxw %r2, [%r6+0]\njgt %r2, 8, +3\nadd %r0, %r2\nldxb %r0, [%r0+0]\nmov %r0, 0\nmov %r0, 0\nexit",
            "invalid access to map value, value_size=8 off=8 size=1"),
        new("map key from uninitialized stack", "mov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd(0)\ncall 1\nmov %r0, 0\nexit",
            "invalid read from stack R2 off -4+0 size 4", Privileged: false),
        new("map key outside the stack", "mov %r2, %r10\nadd %r2, -2\nlddw %r1, map_fd(0)\ncall 1\nmov %r0, 0\nexit",
            "invalid read from stack R2 off=-2 size=4"),
        new("map argument that is a number", "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nmov %r1, 0\ncall 1\nmov %r0, 0\nexit",
            "R1 type=scalar expected=map_ptr"),
        new("map lookup on a ring buffer", "stw [%r10-4], 0\nmov %r2, %r10\nadd %r2, -4\nlddw %r1, map_fd(2)\ncall 1\nmov %r0, 0\nexit",
            "invalid zero-sized read"),
        new("lddw of a map that does not exist", "lddw %r1, map_fd(9)\nmov %r0, 0\nexit", "fd 9 is not pointing to valid bpf_map"),

        // Pointer arithmetic.
        new("arithmetic on a map pointer", "lddw %r1, map_fd(0)\nadd %r1, 8\nmov %r0, 0\nexit", "R1 pointer arithmetic on map_ptr prohibited"),
        new("arithmetic on a nullable pointer", LookupMap0 + "\nadd %r0, 8\nmov %r0, 0\nexit", "R0 pointer arithmetic on map_value_or_null prohibited, null-check it first"),
        new("bitwise and on a pointer", "and %r1, 7\nmov %r0, 0\nexit", "R1 bitwise operator &= on pointer prohibited"),
        new("32-bit arithmetic on a pointer", "mov %r2, %r10\nadd32 %r2, 4\nmov %r0, 0\nexit", "R2 32-bit pointer arithmetic prohibited"),
        new("multiplying a pointer", "mul %r1, 2\nmov %r0, 0\nexit", "R1 pointer arithmetic with *= operator prohibited"),
        new("stack pointer plus constant", "mov %r2, %r10\nadd %r2, -8\nstdw [%r2+0], 1\nldxdw %r0, [%r10-8]\nexit", null),
        new("scalar minus pointer", "mov %r2, 0\nsub %r2, %r10\nmov %r0, 0\nexit", "R2 tried to subtract pointer from scalar"),

        // Packets.
        new("packet read without a bounds check", "ldxw %r2, [%r1+0]\nldxb %r0, [%r2+0]\nexit",
            "invalid access to packet, off=0 size=1, R2(id=0,off=0,r=0)", ProgramType.Xdp),
        new("packet read after a bounds check", XdpPacketStart + "\njgt %r4, %r3, +1\nldxw %r0, [%r2+0]\nmov %r0, 0\nexit", null, ProgramType.Xdp),
        new("packet read past the checked bytes", XdpPacketStart + "\njgt %r4, %r3, +1\nldxdw %r0, [%r2+0]\nmov %r0, 0\nexit",
            "invalid access to packet, off=0 size=8, R2(id=0,off=0,r=4)", ProgramType.Xdp),
        new("packet read on the failing side of the check", XdpPacketStart + "\njle %r4, %r3, +1\nldxw %r0, [%r2+0]\nmov %r0, 0\nexit",
            "invalid access to packet", ProgramType.Xdp),
        new("packet check with end on the left", XdpPacketStart + "\njlt %r3, %r4, +1\nldxw %r0, [%r2+0]\nmov %r0, 0\nexit", null, ProgramType.Xdp),
        new("arithmetic on packet end", "ldxw %r3, [%r1+4]\nadd %r3, 1\nmov %r0, 0\nexit", "R3 pointer arithmetic on pkt_end prohibited", ProgramType.Xdp),
        new("packet write in cgroup_skb", "ldxw %r2, [%r1+76]\nldxw %r3, [%r1+80]\nmov %r4, %r2\nadd %r4, 4\njgt %r4, %r3, +1\nstw [%r2+0], 0\nmov %r0, 1\nexit",
            "cannot write into packet", ProgramType.CgroupSkb),

        // Helpers.
        new("unknown helper", "call 9999\nmov %r0, 0\nexit", "invalid func unknown#9999"),
        new("helper not available to the program type", "mov %r1, 1\nmov %r2, 0\ncall 23\nmov %r0, 0\nexit", "program of this type cannot use helper bpf_redirect#23"),
        new("helper available to the program type", "mov %r1, 1\nmov %r2, 0\ncall 23\nmov %r0, 0\nexit", null, ProgramType.SchedCls),
        new("unbounded size argument", "ldxw %r2, [%r1+0]\nstdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\ncall 6\nmov %r0, 0\nexit",
            "R2 invalid zero-sized read: u64=[0,4294967295]"),
        new("unbounded non-zero size argument", "ldxw %r2, [%r1+0]\nor %r2, 1\nstdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\ncall 6\nmov %r0, 0\nexit",
            "R2 unbounded memory access, use 'var &= const' or 'if (var < const)'"),
        new("constant size argument", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 8\ncall 6\nmov %r0, 0\nexit", null),
        new("size argument larger than the buffer", "stdw [%r10-8], 0\nmov %r1, %r10\nadd %r1, -8\nmov %r2, 16\ncall 6\nmov %r0, 0\nexit",
            "invalid read from stack R1 off=-8 size=16"),
        new("tail call through a hash map", "lddw %r2, map_fd(0)\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit",
            "expected prog array map for tail call"),
        new("tail call through a program array", "lddw %r2, map_fd(3)\nmov %r3, 0\ncall 12\nmov %r0, 0\nexit", null),

        // Ring buffer memory.
        new("ring buffer reservation never released", "lddw %r1, map_fd(2)\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +1\nstdw [%r0+0], 1\nmov %r0, 0\nexit",
            "BPF_EXIT instruction in main prog would lead to reference leak"),
        new("ring buffer reservation submitted", "lddw %r1, map_fd(2)\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +4\nstdw [%r0+0], 1\nmov %r1, %r0\nmov %r2, 0\ncall 132\nmov %r0, 0\nexit", null),
        new("ring buffer memory used without a null check", "lddw %r1, map_fd(2)\nmov %r2, 8\nmov %r3, 0\ncall 131\nstdw [%r0+0], 1\nmov %r0, 0\nexit",
            "R0 invalid mem access 'ringbuf_mem_or_null'"),
        new("ring buffer write past the reservation", "lddw %r1, map_fd(2)\nmov %r2, 8\nmov %r3, 0\ncall 131\njeq %r0, 0, +4\nstdw [%r0+8], 1\nmov %r1, %r0\nmov %r2, 0\ncall 133\nmov %r0, 0\nexit",
            "invalid access to memory, mem_size=8 off=8 size=8"),

        // Return values and leaks.
        new("cgroup_skb returning 2", "mov %r0, 2\nexit", "At program exit the register R0 has smin=2 smax=2 should have been in [0, 1]", ProgramType.CgroupSkb),
        new("cgroup_skb returning 1", "mov %r0, 1\nexit", null, ProgramType.CgroupSkb),
        new("unprivileged pointer return", "mov %r0, %r10\nexit", "R0 leaks addr as return value", Privileged: false),
        new("unprivileged number return", "mov %r0, 0\nexit", null, Privileged: false),
        new("unprivileged pointer stored into a map", LookupMap0 + "\njeq %r0, 0, +1\nstxdw [%r0+0], %r10\nmov %r0, 0\nexit",
            "R10 leaks addr into map", Privileged: false),
        new("unprivileged pointer comparison", "jgt %r1, %r10, +0\nmov %r0, 0\nexit", "R1 pointer comparison prohibited", Privileged: false),

        // Control flow.
        new("unreachable instruction", "mov %r0, 0\nexit\nmov %r0, 1\nexit", "unreachable insn 2"),
        new("unprivileged loop", "mov %r0, 0\nadd %r0, 1\njlt %r0, 10, -2\nexit", "back-edge from insn 2 to 1", Privileged: false),
        new("privileged bounded loop", "mov %r0, 0\nadd %r0, 1\njlt %r0, 10, -2\nexit", null),
        new("loop that never changes state", "mov %r0, 0\njeq %r0, 0, -1\nexit", "infinite loop detected at insn 1"),
        new("constant division by zero", "mov %r0, 1\ndiv %r0, 0\nexit", "div by zero"),
        new("division by a register that may be zero", "mov %r0, 1\nmov %r2, 0\ndiv %r0, %r2\nexit", null),
        new("local call returning a stack pointer", "call local f\nmov %r0, 0\nexit\nf:\nmov %r0, %r10\nexit",
            "cannot return stack pointer to the caller"),
        new("local call returning a number", "mov %r1, 5\ncall local f\nexit\nf:\nmov %r0, %r1\nexit", null),
        new("caller's R1 unreadable after a local call", "mov %r1, 5\ncall local f\nmov %r0, %r1\nexit\nf:\nmov %r0, 0\nexit", "R1 !read_ok"),
    ];

    public static TheoryData<string> AllCases()
    {
        var data = new TheoryData<string>();
        foreach (Case c in Cases)
            data.Add(c.Name);
        return data;
    }

    internal static VerificationResult Verify(Case c, bool log = false)
    {
        BpfProgram program = Assembler.Assemble(c.Asm, AsmSyntax.Conformance, c.Name);
        return Verifier.Verify(program, new VerifierOptions { ProgramType = c.Type, Privileged = c.Privileged, Maps = Maps, Log = log });
    }

    [Theory]
    [MemberData(nameof(AllCases))]
    public void Program_gets_the_expected_verdict(string name)
    {
        Case c = Cases.Single(x => x.Name == name);
        VerificationResult result = Verify(c, log: true);
        output.WriteLine(result.Log);
        if (c.Error == null)
        {
            Assert.True(result.Accepted, $"expected acceptance, got: {result.Error}");
        }
        else
        {
            Assert.False(result.Accepted, "expected rejection: " + c.Error);
            Assert.Contains(c.Error, result.Error!.Message, StringComparison.Ordinal);
        }
        Assert.Contains("processed ", result.Log, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejection_names_instruction_state_and_path()
    {
        Case c = Cases.Single(x => x.Name == "map value read past the value");
        VerificationResult result = Verify(c);
        VerifierError error = result.Error!;
        Assert.Equal(VerifierErrorCode.MapValueOutOfBounds, error.Code);
        Assert.Equal(7, error.Pc); // stw, mov, add, lddw (2 slots), call, jeq, ldxdw
        Assert.StartsWith("(79) ldxdw r0, [r0+8]", error.Instruction, StringComparison.Ordinal);
        Assert.Contains("R0=map_value(id=1,map=0)", error.State, StringComparison.Ordinal);
        Assert.Equal(["6:fallthrough"], error.Path);
    }

    [Fact]
    public void Instruction_limit_is_enforced()
    {
        BpfProgram program = Assembler.Assemble("mov %r0, 0\nadd %r0, 1\njlt %r0, 1000, -2\nexit", AsmSyntax.Conformance);
        VerificationResult result = Verifier.Verify(program, new VerifierOptions { InstructionLimit = 100 });
        Assert.Equal(VerifierErrorCode.ProgramTooLarge, result.Error?.Code);
        Assert.Equal("BPF program is too large. Processed 101 insn", result.Error?.Message);
        Assert.True(Verifier.Verify(program).Accepted);
    }

    [Fact]
    public void Every_check_has_both_an_unsafe_and_a_safe_program()
    {
        int rejected = Cases.Count(c => c.Error != null), accepted = Cases.Count(c => c.Error == null);
        output.WriteLine($"{rejected} unsafe programs, {accepted} safe programs");
        Assert.True(rejected >= 40, $"only {rejected} unsafe programs");
    }

    [Theory]
    [InlineData(20)]
    [InlineData(60)]
    public void Chains_of_branches_are_pruned(int diamonds)
    {
        // if (x > k) skip "r2 += 1", repeated: 2^n paths, but the states after each diamond are covered by the
        // first one explored (x's range only shrinks), so exploration stays linear.
        var text = new System.Text.StringBuilder("ldxw %r1, [%r1+0]\nmov %r2, 0\n");
        for (int k = 0; k < diamonds; k++)
            text.Append(System.Globalization.CultureInfo.InvariantCulture, $"jgt %r1, {k * 3}, +1\nadd %r2, 1\n");
        text.Append("mov %r0, 0\nexit");
        VerificationResult result = Verifier.Verify(Assembler.Assemble(text.ToString(), AsmSyntax.Conformance));
        output.WriteLine($"{diamonds} diamonds: processed {result.ProcessedInstructions} insns, peak states {result.PeakStates}, {result.Elapsed.TotalMilliseconds:F1} ms");
        Assert.True(result.Accepted, result.Error?.ToString());
    }
}
