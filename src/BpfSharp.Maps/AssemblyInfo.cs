namespace BpfSharp.Maps;
