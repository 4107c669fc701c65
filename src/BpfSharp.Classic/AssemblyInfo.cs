namespace BpfSharp.Classic;
