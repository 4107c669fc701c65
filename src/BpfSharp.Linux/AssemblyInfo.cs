namespace BpfSharp.Linux;
