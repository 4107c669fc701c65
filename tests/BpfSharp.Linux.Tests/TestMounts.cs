using System.Runtime.CompilerServices;
using BpfSharp.Linux;

namespace BpfSharp.Linux.Tests;

/// <summary>
/// Tests may make the library mount tracefs (it is absent on a fresh machine); whatever this test process
/// mounted is unmounted when it exits, so a run leaves the machine as it found it.
/// </summary>
internal static class TestMounts
{
    [ModuleInitializer]
    internal static void Register()
    {
        if (!OperatingSystem.IsLinux())
            return;
        SpecialFileSystems.Notice += msg => Console.WriteLine("[BpfSharp.Linux] " + msg);
        AppDomain.CurrentDomain.ProcessExit += (_, _) =>
        {
            foreach (string path in SpecialFileSystems.MountedByThisProcess)
            {
                try { SpecialFileSystems.Unmount(path); } catch (BpfException) { }
            }
        };
    }
}
