using BenchmarkDotNet.Running;

// Every benchmark class in this assembly is selectable: dotnet run -c Release -- --filter '*Map*'
// "cputime" runs the thread-CPU-time benchmark command instead (for a machine shared with other work).
if (args.Length > 0 && args[0] == "cputime") return BpfSharp.Benchmarks.CpuTimeBench.Run(args);
BenchmarkSwitcher.FromAssembly(typeof(BpfSharp.Benchmarks.BenchmarkMarker).Assembly).Run(args);
return 0;

namespace BpfSharp.Benchmarks
{
    /// <summary>Anchors the assembly for the benchmark switcher.</summary>
    internal static class BenchmarkMarker;
}
