namespace BpfSharp.Runtime;
