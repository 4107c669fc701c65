using System.CommandLine;
using BpfSharp.Cli.Commands;

var root = new RootCommand("bpfsharp: eBPF assembler, disassembler, runtime, verifier and loader for .NET");
root.Subcommands.Add(AsmCommands.Asm());
root.Subcommands.Add(AsmCommands.Disasm());
root.Subcommands.Add(RunCommand.Create());
root.Subcommands.Add(ConformancePluginCommand.Create());
root.Subcommands.Add(MapCommands.Create());
root.Subcommands.Add(ObjdumpCommand.Create());
root.Subcommands.Add(FilterCommands.Create());
root.Subcommands.Add(ToolCommands.Create());
root.Subcommands.Add(VerifyCommand.Create());
return root.Parse(args).Invoke();
