namespace BpfSharp.Asm;
