using System.CommandLine;

namespace BpfSharp.Cli.Commands;

/// <summary><c>map dump</c>: runs a program over packets (optional) and prints the object's maps.</summary>
internal static class MapCommands
{
    public static Command Create()
    {
        var file = new Argument<string>("OBJ") { Description = "ELF object" };
        var program = new Option<string?>("--program") { Description = "program to run first" };
        var data = new Option<string[]>("--data") { Description = "packet file(s) to run the program on first", AllowMultipleArgumentsPerToken = true };
        var name = new Option<string?>("--map") { Description = "only this map" };
        var engine = new Option<string>("--engine") { Description = "interpreter or jit", DefaultValueFactory = _ => "interpreter" };
        var dump = new Command("dump", "print the maps of an object, after running a program on packets") { file, program, data, name, engine };
        dump.SetAction(parse => CliGuard.Run(() =>
        {
            using var obj = ObjectRunner.Load(parse.GetValue(file)!, parse.GetValue(engine)!);
            var packets = parse.GetValue(data) ?? [];
            if (packets.Length > 0)
            {
                var p = ObjectRunner.Find(obj, parse.GetValue(program));
                foreach (var f in packets)
                {
                    if (!File.Exists(f)) throw new CliError($"{f}: no such file");
                    var bytes = File.ReadAllBytes(f);
                    if (p.Layout is null) p.RunWithContext(bytes);
                    else p.Run(bytes);
                }
            }
            string? only = parse.GetValue(name);
            if (only is not null && obj.Maps.All(m => m.Name != only)) throw new CliError($"no map named '{only}'");
            ObjectRunner.PrintMaps(obj, only);
            return 0;
        }));
        return new Command("map", "inspect maps") { dump };
    }
}
