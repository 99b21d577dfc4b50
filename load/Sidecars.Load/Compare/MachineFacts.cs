using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using Sidecars.Load.Report;

namespace Sidecars.Load.Compare;

/// <summary>Where the figures come from: the machine (from /proc) and the build (git, dotnet).</summary>
public static class MachineFacts
{
    public static MachineInfo Machine()
    {
        var cpu = "unknown";
        if (File.Exists("/proc/cpuinfo"))
        {
            cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? cpu;
        }

        long memory = 0;
        if (File.Exists("/proc/meminfo"))
        {
            var line = File.ReadLines("/proc/meminfo").FirstOrDefault(l => l.StartsWith("MemTotal:", StringComparison.Ordinal));
            if (line is not null)
            {
                memory = long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) * 1024;
            }
        }

        var kernel = File.Exists("/proc/sys/kernel/osrelease") ? File.ReadAllText("/proc/sys/kernel/osrelease").Trim() : Environment.OSVersion.VersionString;
        return new MachineInfo(Environment.ProcessorCount, memory, kernel, cpu, RuntimeInformation.OSDescription);
    }

    public static string GitCommit() => Run("git", ["rev-parse", "--short=12", "HEAD"]) is { Length: > 0 } commit
        ? commit + (Run("git", ["status", "--porcelain", "--untracked-files=no"]) is { Length: > 0 } ? "+dirty" : "")
        : "unknown";

    public static string DotnetVersion() => RuntimeInformation.FrameworkDescription.Replace(".NET ", "", StringComparison.Ordinal);

    private static string Run(string file, string[] args)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
            var output = process.StandardOutput.ReadToEnd().Trim();
            process.WaitForExit(5000);
            return process.ExitCode == 0 ? output : "";
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return "";
        }
    }
}
