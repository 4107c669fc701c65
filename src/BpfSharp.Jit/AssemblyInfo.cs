namespace BpfSharp.Jit;
