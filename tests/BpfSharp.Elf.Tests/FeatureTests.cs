using BpfSharp.Isa;
using BpfSharp.Elf.Btf;
using Xunit;

namespace BpfSharp.Elf.Tests;

/// <summary>data/btf/features.c: CO-RE, kfuncs, externs, callbacks, map-in-map, program arrays, pinning, SEC targets.</summary>
public sealed class FeatureTests
{
    private static readonly BpfObject Obj = BpfObject.Load(Path.Combine(TestSupport.DataDir, "btf", "features.o"));

    [Fact]
    public void Section_names_give_types_attach_types_targets_and_flags()
    {
        var expected = new (string Name, BpfProgramType Type, BpfAttachType? Attach, string? Target, BpfProgramFlags Flags)[]
        {
            ("tail", BpfProgramType.SchedCls, null, null, BpfProgramFlags.None),
            ("on_switch", BpfProgramType.Tracing, BpfAttachType.TraceRawTp, "sched_switch", BpfProgramFlags.None),
            ("enter", BpfProgramType.Tracing, BpfAttachType.TraceFentry, "do_unlinkat", BpfProgramFlags.None),
            ("opened", BpfProgramType.Lsm, BpfAttachType.LsmMac, "file_open", BpfProgramFlags.Sleepable),
            ("frags", BpfProgramType.Xdp, BpfAttachType.Xdp, null, BpfProgramFlags.XdpHasFrags),
            ("egress", BpfProgramType.CgroupSkb, BpfAttachType.CgroupInetEgress, null, BpfProgramFlags.None),
            ("ret", BpfProgramType.Kprobe, null, "libc.so.6:malloc", BpfProgramFlags.None),
        };
        Assert.Equal(expected, Obj.Programs.Select(p => (p.Name, p.Type, p.ExpectedAttachType, p.AttachTarget, p.Flags)));
        Assert.All(Obj.Programs, p => Assert.False(p.IsLegacySectionName));
    }

    [Fact]
    public void Kfunc_calls_and_extern_variables_are_kept_as_extern_references()
    {
        var p = Obj.FindProgram("on_switch")!;
        // llvm-readelf -r: R_BPF_64_32 bpf_task_acquire @0x58, bpf_task_release @0xa0; R_BPF_64_64 bpf_prog_active @0xb0, CONFIG_HZ @0xd8.
        Assert.Equal(
            [new ExternReference(0x58 / 8, "bpf_task_acquire", ExternReferenceKind.KfuncCall),
             new ExternReference(0xa0 / 8, "bpf_task_release", ExternReferenceKind.KfuncCall),
             new ExternReference(0xb0 / 8, "bpf_prog_active", ExternReferenceKind.Variable),
             new ExternReference(0xd8 / 8, "CONFIG_HZ", ExternReferenceKind.Variable)],
            p.ExternReferences);
        Assert.Equal(2, p.Instructions[0x58 / 8].Src); // BPF_PSEUDO_KFUNC_CALL
        Assert.Equal(["bpf_task_acquire", "bpf_task_release", "bpf_prog_active", "CONFIG_HZ"], Obj.Externs);
    }

    [Fact]
    public void A_callback_address_links_the_callback_and_becomes_a_pseudo_func_lddw()
    {
        var p = Obj.FindProgram("on_switch")!;
        Assert.Equal(["on_switch", "step"], p.Functions.Select(f => f.Name));
        var step = p.Functions[1];
        // llvm-readelf -r: R_BPF_64_64 against .text at 0x30: the lddw loading &step.
        var lddw = p.Instructions[0x30 / 8];
        Assert.Equal(0x18, lddw.Opcode);
        Assert.Equal(4, lddw.Src); // BPF_PSEUDO_FUNC
        Assert.Equal(step.StartIndex, 0x30 / 8 + lddw.Imm + 1);
        Assert.Contains(p.FuncInfos, f => f.InstructionIndex == step.StartIndex && Obj.Btf![f.TypeId].Name == "step");
    }

    [Fact]
    public void Core_relocations_name_the_accessed_fields()
    {
        var p = Obj.FindProgram("on_switch")!;
        var task = Obj.Btf!.Find<BtfComposite>("task_struct")!;
        // t->pid is member 0, held->tgid member 1: access strings "0:0" and "0:1", byte-offset relocations.
        var relos = p.CoreRelocations.Where(r => r.TypeId == task.Id).ToList();
        Assert.Contains(relos, r => r.AccessString == "0:0" && r.Kind == CoreRelocationKind.FieldByteOffset);
        Assert.Contains(relos, r => r.AccessString == "0:1" && r.Kind == CoreRelocationKind.FieldByteOffset);
        Assert.All(p.CoreRelocations, r => Assert.InRange(r.InstructionIndex, 0, p.InstructionCount - 1));
    }

    [Fact]
    public void Map_in_map_and_program_array_carry_their_initial_slots()
    {
        var outer = Obj.FindMap("outer")!;
        Assert.Equal((BpfMapType.ArrayOfMaps, 4u, 4u, 4u, 1u), (outer.Type, outer.KeySize, outer.ValueSize, outer.MaxEntries, outer.Pinning));
        var inner = outer.InnerMap!;
        Assert.Equal((BpfMapType.Array, 4u, 8u, 1u, MapSource.InnerMapTemplate), (inner.Type, inner.KeySize, inner.ValueSize, inner.MaxEntries, inner.Source));
        // .rel.maps: inner_a at 0x50 = outer (0x20) + values (member 4, byte 32) + slot 2 * 8.
        Assert.Equal([new MapInitialSlot(2, "inner_a")], outer.InitialSlots);
        var jumps = Obj.FindMap("jumps")!;
        Assert.Equal((BpfMapType.ProgArray, 4u, 4u, 2u), (jumps.Type, jumps.KeySize, jumps.ValueSize, jumps.MaxEntries));
        Assert.Equal([new MapInitialSlot(1, "tail")], jumps.InitialSlots);
        Assert.Null(jumps.InnerMap);
        Assert.Equal(["inner_a", "outer", "jumps"], Obj.Maps.Select(m => m.Name));
    }
}
