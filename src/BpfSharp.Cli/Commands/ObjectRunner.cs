using BpfSharp.Isa;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using BpfSharp.Maps;
using BpfSharp.Runtime.Hosting;
using Spectre.Console;

namespace BpfSharp.Cli.Commands;

/// <summary>Runs a program of an ELF object on packets in the userspace runtime and shows results and maps.</summary>
internal static class ObjectRunner
{
    public static int Run(string objectPath, string? programName, IReadOnlyList<string> dataFiles, int repeat, bool json,
        bool showMaps, string engine, string? mapInit = null)
    {
        if (engine == "kernel") return KernelRun(objectPath, programName, dataFiles, repeat, json);
        using var obj = Load(objectPath, engine);
        if (mapInit is not null) InitMaps(obj, mapInit);
        var program = Find(obj, programName);
        if (dataFiles.Count == 0) throw new CliError("give the packet(s) to run on with --data FILE");
        var results = new List<Dictionary<string, object>>();
        foreach (var file in dataFiles)
        {
            if (!File.Exists(file)) throw new CliError($"{file}: no such file");
            byte[] packet = File.ReadAllBytes(file);
            uint retval = 0;
            var sw = Stopwatch.StartNew();
            for (int i = 0; i < repeat; i++) retval = program.Layout is null ? program.RunWithContext(packet) : program.Run(packet);
            sw.Stop();
            results.Add(new Dictionary<string, object>
            {
                ["program"] = program.Name,
                ["data"] = file,
                ["engine"] = engine,
                ["retval"] = retval,
                ["ns_per_run"] = Math.Round(sw.Elapsed.TotalNanoseconds / repeat, 2),
                ["repeat"] = repeat,
                ["instructions"] = program.LastInstructionCount,
            });
        }
        if (json)
        {
            Console.WriteLine(results.Count == 1 ? JsonSerializer.Serialize(results[0]) : JsonSerializer.Serialize(results));
            return 0;
        }
        AnsiConsole.MarkupLine($"[bold]{Markup.Escape(program.Name)}[/] (section {Markup.Escape(program.Spec.SectionName)}, {program.Spec.Type}) on the userspace {engine}");
        var table = new Table();
        table.AddColumns("packet", "bytes", "retval");
        if (repeat > 1) table.AddColumn("ns/run");
        foreach (var r in results)
        {
            string file = (string)r["data"];
            var cells = new List<string>
            {
                Markup.Escape(Path.GetFileName(file)), new FileInfo(file).Length.ToString(CultureInfo.InvariantCulture),
                Markup.Escape(Describe((uint)r["retval"], program.Spec.Type)),
            };
            if (repeat > 1) cells.Add(((double)r["ns_per_run"]).ToString("0.#", CultureInfo.InvariantCulture));
            table.AddRow([.. cells]);
        }
        AnsiConsole.Write(table);
        if (showMaps) PrintMaps(obj, null);
        return 0;
    }

    /// <summary>Loads the object into the Linux kernel and runs the program with BPF_PROG_TEST_RUN (root needed).</summary>
    private static int KernelRun(string objectPath, string? programName, IReadOnlyList<string> dataFiles, int repeat, bool json)
    {
        if (!File.Exists(objectPath)) throw new CliError($"{objectPath}: no such file");
        if (dataFiles.Count == 0) throw new CliError("give the packet(s) to run on with --data FILE");
        Linux.KernelObject obj;
        try
        {
            obj = Linux.KernelObject.Load(objectPath);
        }
        catch (Exception e) when (e is Linux.BpfException or NotSupportedException or Elf.BpfObjectException)
        {
            throw new CliError(e.Message.ReplaceLineEndings(" "));
        }
        using (obj)
        {
            Linux.KernelProgram program;
            try
            {
                program = obj.Program(programName);
            }
            catch (KeyNotFoundException e)
            {
                throw new CliError(e.Message.Trim('\''));
            }
            var results = new List<Dictionary<string, object>>();
            foreach (var file in dataFiles)
            {
                if (!File.Exists(file)) throw new CliError($"{file}: no such file");
                var r = program.TestRun(File.ReadAllBytes(file), (uint)repeat);
                results.Add(new Dictionary<string, object>
                {
                    ["program"] = programName ?? obj.Object.Programs[0].Name,
                    ["data"] = file,
                    ["engine"] = "kernel",
                    ["retval"] = r.ReturnValue,
                    ["ns_per_run"] = r.DurationNs,
                    ["repeat"] = repeat,
                });
            }
            if (json)
                Console.WriteLine(results.Count == 1 ? JsonSerializer.Serialize(results[0]) : JsonSerializer.Serialize(results));
            else
                foreach (var r in results) Console.WriteLine($"{Path.GetFileName((string)r["data"])}: retval {r["retval"]} ({r["ns_per_run"]} ns/run in the kernel)");
            return 0;
        }
    }

    /// <summary>
    /// Fills maps before the runs from a JSON file: <c>{ "map": { "key": value, ... } }</c>, keys and values as unsigned
    /// integers written little-endian in the map's key and value sizes (1, 2, 4 or 8 bytes).
    /// </summary>
    private static void InitMaps(BpfRuntimeObject obj, string path)
    {
        if (!File.Exists(path)) throw new CliError($"{path}: no such file");
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException e)
        {
            throw new CliError($"{path}: {e.Message}");
        }
        using (doc)
        {
            foreach (var map in doc.RootElement.EnumerateObject())
            {
                BpfMap target;
                try
                {
                    target = obj.Map(map.Name);
                }
                catch (KeyNotFoundException e)
                {
                    throw new CliError($"{path}: {e.Message.Trim('\'')}");
                }
                foreach (var entry in map.Value.EnumerateObject())
                {
                    if (!ulong.TryParse(entry.Name, NumberStyles.Integer, CultureInfo.InvariantCulture, out ulong key) || !entry.Value.TryGetUInt64(out ulong value))
                        throw new CliError($"{path}: map {map.Name}: entry \"{entry.Name}\" is not an unsigned integer key and value");
                    var err = target.UpdateElem(Encode(key, target.KeySize, path, map.Name), Encode(value, target.ValueSize, path, map.Name));
                    if (err != 0) throw new CliError($"{path}: map {map.Name}: update of key {key} failed ({err})");
                }
            }
        }
    }

    private static byte[] Encode(ulong v, int size, string path, string map)
    {
        if (size is not (1 or 2 or 4 or 8)) throw new CliError($"{path}: map {map} has {size}-byte keys or values; --map-init writes integers only");
        if (size < 8 && v >> (size * 8) != 0) throw new CliError($"{path}: map {map}: {v} does not fit in {size} bytes");
        var bytes = new byte[size];
        for (int i = 0; i < size; i++) bytes[i] = (byte)(v >> (8 * i));
        return bytes;
    }

    public static BpfRuntimeObject Load(string path, string engine)
    {
        if (!File.Exists(path)) throw new CliError($"{path}: no such file");
        try
        {
            return BpfRuntimeObject.Load(path, new RuntimeOptions { Engine = Engines.Factory(engine) });
        }
        catch (Elf.BpfObjectException e)
        {
            throw new CliError(e.Message);
        }
        catch (MapSpecException e)
        {
            throw new CliError($"{path}: {e.Message}");
        }
    }

    public static RuntimeProgram Find(BpfRuntimeObject obj, string? name)
    {
        try
        {
            return obj.Program(name);
        }
        catch (KeyNotFoundException e)
        {
            throw new CliError(e.Message.Trim('\''));
        }
    }

    private static string Describe(uint retval, Elf.BpfProgramType type) => type == Elf.BpfProgramType.Xdp && retval <= 4
        ? $"{retval} ({new[] { "XDP_ABORTED", "XDP_DROP", "XDP_PASS", "XDP_TX", "XDP_REDIRECT" }[retval]})"
        : retval.ToString(CultureInfo.InvariantCulture);

    public static void PrintMaps(BpfRuntimeObject obj, string? only)
    {
        for (int i = 0; i < obj.Maps.Count; i++)
        {
            var map = obj.Maps[i];
            if (only is not null && map.Name != only) continue;
            var spec = obj.Object.Maps[i];
            AnsiConsole.MarkupLine($"map [bold]{Markup.Escape(map.Name)}[/]: {map.Type}, key {map.KeySize} B, value {map.ValueSize} B, max {map.MaxEntries} entries");
            var table = new Table();
            table.AddColumns("key", "value");
            int rows = 0;
            foreach (var key in map.Keys())
            {
                var value = new byte[map.HostValueSize];
                if (!map.TryLookup(key, value)) continue;
                if (map.Type is BpfMapType.Array && value.AsSpan().IndexOfAnyExcept((byte)0) < 0) continue;
                table.AddRow(Markup.Escape(ValueFormatter.Format(key, obj.Object.Btf, spec.BtfKeyTypeId)),
                    Markup.Escape(ValueFormatter.Format(value, obj.Object.Btf, map.Spec.IsPerCpu ? 0 : spec.BtfValueTypeId)));
                if (++rows == 64) break;
            }
            if (rows == 0) table.AddRow("[grey](empty)[/]", "");
            AnsiConsole.Write(table);
        }
    }
}
