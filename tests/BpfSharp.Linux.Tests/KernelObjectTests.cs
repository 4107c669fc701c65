using System.Text.Json;
using BpfSharp.Elf;
using BpfSharp.Linux;
using BpfSharp.Runtime.Hosting;
using BpfSharp.Testing;
using Xunit;
using Xunit.Abstractions;

namespace BpfSharp.Linux.Tests;

/// <summary>
/// The shared benchmark objects (clang-built XDP programs) loaded whole into the kernel with
/// <see cref="KernelObject"/>: maps created (.rodata filled and frozen), programs verified, and PROG_TEST_RUN
/// giving the manifest's expected values (which come from the kernel runs recorded in /work/shared/bench).
/// The same objects in the userspace runtime (interpreter) must give the same values: the differential check.
/// </summary>
public class KernelObjectTests(ITestOutputHelper output)
{
    public sealed record BenchCase(string Name, string ObjectPath, string Program, string InputPath, uint Expected, uint? ExpectedFirst)
    {
        public override string ToString() => Name;
    }

    public static IEnumerable<object[]> BenchNames()
    {
        var manifest = TestPaths.Shared("bench/manifest.json");
        if (manifest is null)
        {
            yield return ["(no shared bench data)"];
            yield break;
        }
        foreach (var c in LoadManifest(manifest)) yield return [c.Name];
    }

    private static List<BenchCase> LoadManifest(string path)
    {
        string dir = Path.GetDirectoryName(path)!;
        using var doc = JsonDocument.Parse(File.ReadAllText(path));
        var list = new List<BenchCase>();
        foreach (var p in doc.RootElement.GetProperty("programs").EnumerateArray())
        {
            list.Add(new BenchCase(
                p.GetProperty("name").GetString()!,
                Path.Combine(dir, p.GetProperty("object").GetString()!),
                p.GetProperty("prog").GetString()!,
                Path.Combine(dir, p.GetProperty("input").GetString()!),
                p.GetProperty("expected_retval").GetUInt32(),
                p.TryGetProperty("expected_retval_first", out var f) ? f.GetUInt32() : null));
        }
        return list;
    }

    private BenchCase? Find(string name)
    {
        var manifest = TestPaths.Shared("bench/manifest.json");
        if (manifest is null)
        {
            output.WriteLine("SKIP: ../shared/bench is absent");
            return null;
        }
        return LoadManifest(manifest).Single(c => c.Name == name);
    }

    // array_scan's manifest: "before the run slot i = (i * 2654435761) % 1000003".
    private static IEnumerable<(byte[] Key, byte[] Value)> TableContents()
    {
        for (uint i = 0; i < 256; i++)
            yield return (BitConverter.GetBytes(i), BitConverter.GetBytes((ulong)i * 2654435761UL % 1000003UL));
    }

    [KernelTheory]
    [MemberData(nameof(BenchNames))]
    public void Bench_object_loads_into_the_kernel_and_returns_the_manifest_value(string name)
    {
        var c = Find(name);
        if (c is null) return;
        using var obj = KernelObject.Load(c.ObjectPath);
        output.WriteLine($"{obj}; BTF {(obj.Btf is null ? "not loaded: " + obj.BtfLoadError : "loaded")}");
        if (name == "array_scan")
            foreach (var (k, v) in TableContents()) obj.Map("table").Update(k, v);
        var prog = obj.Program(c.Program);
        byte[] packet = File.ReadAllBytes(c.InputPath);
        if (c.ExpectedFirst is { } first)
            Assert.Equal(first, prog.TestRun(packet).ReturnValue);
        Assert.Equal(c.Expected, prog.TestRun(packet).ReturnValue);
    }

    [KernelTheory]
    [MemberData(nameof(BenchNames))]
    public void Bench_object_gives_the_same_values_in_the_kernel_and_the_userspace_interpreter(string name)
    {
        var c = Find(name);
        if (c is null) return;
        byte[] packet = File.ReadAllBytes(c.InputPath);
        var parsed = BpfObject.Load(c.ObjectPath);
        using var kernel = KernelObject.Load(parsed);
        using var user = BpfRuntimeObject.Load(parsed);
        if (name == "array_scan")
        {
            foreach (var (k, v) in TableContents())
            {
                kernel.Map("table").Update(k, v);
                Assert.Equal(BpfSharp.Maps.BpfErrno.None, user.Map("table").UpdateElem(k, v));
            }
        }
        var kp = kernel.Program(c.Program);
        var up = user.Program(c.Program);
        // Three runs each: stateful programs (flow_counter) must evolve their maps the same way.
        for (int run = 0; run < 3; run++)
        {
            uint k = kp.TestRun(packet).ReturnValue;
            uint u = up.Run(packet);
            output.WriteLine($"run {run}: kernel {k}, interpreter {u}");
            Assert.Equal(k, u);
        }
    }

    [KernelFact]
    public void Object_btf_and_line_info_reach_the_kernel_verifier()
    {
        var c = Find("flow_counter");
        if (c is null) return;
        using var obj = KernelObject.Load(c.ObjectPath, new KernelObjectOptions { LogLevel = 2 });
        Assert.NotNull(obj.Btf);
        Assert.Empty(obj.BtfInfoFallbacks);
        // With line info the verifier log interleaves the C source lines ("; <line>") of the program.
        string source = File.ReadAllText(Path.Combine(Path.GetDirectoryName(c.ObjectPath)!, "../progs/flow_counter.c"));
        var commented = obj.Program().VerifierLog.Split('\n').Where(l => l.StartsWith("; ", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(commented);
        Assert.Contains(commented, l => l.Length > 6 && source.Contains(l[2..].Split(" @ ")[0].Trim(), StringComparison.Ordinal));
    }

    [KernelFact]
    public void Global_data_rodata_is_filled_and_frozen()
    {
        var c = Find("firewall_64");
        if (c is null) return;
        var parsed = BpfObject.Load(c.ObjectPath);
        using var obj = KernelObject.Load(parsed);
        var spec = parsed.FindMap(".rodata")!;
        var map = obj.Map(".rodata");
        Assert.Equal(spec.InitialData.ToArray(), map.Lookup(new byte[4])![..spec.InitialData.Length]);
        // Frozen: userspace writes are refused with EPERM.
        var ex = Assert.Throws<BpfException>(() => map.Update(new byte[4], new byte[map.ValueSize]));
        Assert.Equal(1, ex.Errno);
        Assert.EndsWith(".rodata", map.Name);
    }

    [KernelFact]
    public void Unknown_program_and_map_names_are_reported_with_the_available_ones()
    {
        var c = Find("flow_counter");
        if (c is null) return;
        using var obj = KernelObject.Load(c.ObjectPath);
        var e1 = Assert.Throws<KeyNotFoundException>(() => obj.Program("nope"));
        Assert.Contains("flow_counter", e1.Message);
        var e2 = Assert.Throws<KeyNotFoundException>(() => obj.Map("nope"));
        Assert.Contains("flows", e2.Message);
    }
}

public class KernelObjectCoreTests(ITestOutputHelper output)
{
    [KernelFact]
    public void Programs_with_core_relocations_are_relocated_against_the_kernel_btf_and_load()
    {
        string? clang = Requirements.FindTool("clang-19") ?? Requirements.FindTool("clang");
        if (clang is null || !File.Exists("/sys/kernel/btf/vmlinux"))
        {
            output.WriteLine("SKIP: needs clang and /sys/kernel/btf/vmlinux (to build and relocate a CO-RE object)");
            return;
        }
        string dir = Directory.CreateTempSubdirectory("bpfsharp-core").FullName;
        try
        {
            string c = Path.Combine(dir, "core.c"), o = Path.Combine(dir, "core.o");
            // A local, partial task_struct: only the field we read, at offset 0 — the kernel's pid is far from 0.
            File.WriteAllText(c, """
                struct task_struct { int pid; } __attribute__((preserve_access_index));
                static long (*bpf_probe_read_kernel)(void *dst, unsigned int size, const void *src) = (void *)113;
                static unsigned long long (*bpf_get_current_task)(void) = (void *)35;
                __attribute__((section("tracepoint/syscalls/sys_enter_getpid"), used)) int read_pid(void *ctx)
                {
                    struct task_struct *t = (void *)bpf_get_current_task();
                    int pid = 0;
                    bpf_probe_read_kernel(&pid, sizeof(pid), &t->pid);
                    return pid;
                }
                char LICENSE[] __attribute__((section("license"), used)) = "GPL";
                """);
            using (var p = System.Diagnostics.Process.Start(clang, ["-O2", "-g", "-target", "bpf", "-c", c, "-o", o]))
            {
                p.WaitForExit();
                Assert.Equal(0, p.ExitCode);
            }
            var obj = BpfObject.Load(o);
            Assert.NotEmpty(obj.Programs[0].CoreRelocations);   // clang emitted a field-offset relocation
            // The offset the kernel's own BTF gives task_struct.pid, found independently of the relocator.
            var kernelBtf = BpfSharp.Elf.Btf.Btf.LoadKernel();
            var task = kernelBtf.FindByName("task_struct").OfType<BpfSharp.Elf.Btf.BtfComposite>().First();
            uint pidOffset = task.FindMember("pid")!.Value.ByteOffset;
            var report = BpfSharp.Elf.Btf.CoreRelocator.Apply(obj.Programs[0], obj.Btf!, kernelBtf);
            Assert.True(report.Succeeded);
            Assert.Contains(report.Instructions, i => i.Imm == (int)pidOffset || i.Offset == (short)pidOffset);
            using var loaded = KernelObject.Load(obj);
            Assert.NotNull(loaded.Program("read_pid"));
        }
        finally
        {
            Directory.Delete(dir, true);
        }
    }
}
