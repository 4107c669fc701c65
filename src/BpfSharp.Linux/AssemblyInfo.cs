using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("BpfSharp.Linux.Tests")]

namespace BpfSharp.Linux;
