using System.Runtime.InteropServices;
using BpfSharp.Linux.Native;

namespace BpfSharp.Linux;

/// <summary>
/// Runs code inside a named network namespace (as created by <c>ip netns add NAME</c>, i.e.
/// /var/run/netns/NAME). Interface indexes and XDP/tc attachment are per namespace, so attaching to a device
/// that lives in another namespace must happen from a thread that has entered it. The work runs on a dedicated
/// thread (setns affects only the calling thread); the links it creates stay attached afterwards.
/// </summary>
public static class NetworkNamespace
{
    /// <summary>Runs <paramref name="work"/> in namespace <paramref name="name"/> and returns its result.</summary>
    public static T Run<T>(string name, Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        string path = name.StartsWith('/') ? name : Path.Combine("/var/run/netns", name);
        T result = default!;
        Exception? failure = null;
        var thread = new Thread(() =>
        {
            int target = LibC.Open(path, LibC.ORdonly | LibC.OCloexec);
            if (target < 0)
            {
                failure = new BpfException("open", Marshal.GetLastPInvokeError(), $"network namespace {path}");
                return;
            }
            int original = LibC.Open("/proc/thread-self/ns/net", LibC.ORdonly | LibC.OCloexec);
            try
            {
                if (LibC.SetNs(target, LibC.ClonNewNet) != 0)
                {
                    failure = new BpfException("setns", Marshal.GetLastPInvokeError(), path);
                    return;
                }
                try
                {
                    result = work();
                }
                catch (Exception ex)
                {
                    failure = ex;
                }
                finally
                {
                    if (original >= 0)
                        LibC.SetNs(original, LibC.ClonNewNet);
                }
            }
            finally
            {
                LibC.Close(target);
                if (original >= 0)
                    LibC.Close(original);
            }
        }) { IsBackground = true, Name = "netns " + name };
        thread.Start();
        thread.Join();
        if (failure is not null)
            throw failure is BpfException or BpfNotSupportedException ? failure : new InvalidOperationException($"Work in network namespace '{name}' failed.", failure);
        return result;
    }
}
