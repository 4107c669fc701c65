namespace BpfSharp.Elf;
