using BenchmarkDotNet.Running;

// Every benchmark class in this assembly is selectable: dotnet run -c Release -- --filter '*Map*'
BenchmarkSwitcher.FromAssembly(typeof(BpfSharp.Benchmarks.BenchmarkMarker).Assembly).Run(args);

namespace BpfSharp.Benchmarks
{
    /// <summary>Anchors the assembly for the benchmark switcher.</summary>
    internal static class BenchmarkMarker;
}
