[assembly: System.Runtime.CompilerServices.InternalsVisibleTo("BpfSharp.Classic.Tests")]

namespace BpfSharp.Classic;
