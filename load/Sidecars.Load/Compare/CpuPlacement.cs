using System.Diagnostics;
using System.Globalization;

namespace Sidecars.Load.Compare;

/// <summary>
/// Which CPUs the load (this tool and the h2load it starts) and the measured servers run on. By default, on a
/// machine of two CPUs or more, the load gets the first allowed CPU and the server the others (<c>taskset</c>):
/// unpinned, the scheduler moved h2load and the server over the same two cores and six back-to-back rounds of the
/// same two binaries gave ratios from 0.66 to 1.08; pinned, 0.90 to 1.03, because each round then compares the
/// servers' own cost per call instead of where the scheduler put them. A sidecar on its own core is also how it is
/// deployed (a CPU limit beside Envoy). <c>--pin off</c> runs everything where the scheduler likes.
/// </summary>
public sealed class CpuPlacement(string? load, string? servers, string how, string? restore = null) : IDisposable
{
    private string? _restore = restore;

    /// <summary>The load's CPU list for taskset, or null when unpinned.</summary>
    public string? Load { get; } = load;

    /// <summary>The servers' CPU list for taskset, or null when unpinned.</summary>
    public string? Servers { get; } = servers;

    public string How { get; } = how;

    public static CpuPlacement Unpinned(string why) => new(null, null, "unpinned: " + why);

    /// <summary>Decides the split from this process's allowed CPUs and pins this process (every thread) to the load's share.</summary>
    public static CpuPlacement Apply(bool enabled)
    {
        if (!enabled)
        {
            return Unpinned("--pin off");
        }

        var allowed = AllowedCpus();
        if (allowed.Count < 2)
        {
            return Unpinned($"{allowed.Count} CPU allowed, nothing to split");
        }

        var load = allowed[0].ToString(CultureInfo.InvariantCulture);
        var servers = string.Join(',', allowed.Skip(1).Select(c => c.ToString(CultureInfo.InvariantCulture)));

        // -a: every thread already running (the runtime's own included); threads made later inherit it, and so
        // does h2load, started from here.
        if (!Taskset(["-a", "-c", "-p", load, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)]))
        {
            return Unpinned("taskset (util-linux) could not pin this process");
        }

        return new(load, servers, $"load (generator, h2load) on CPU {load}, servers on CPU {servers} (taskset)",
            restore: string.Join(',', allowed.Select(c => c.ToString(CultureInfo.InvariantCulture))));
    }

    /// <summary>Gives this process back every CPU it had: a compare run inside another process (a test) leaves it as it was.</summary>
    public void Dispose()
    {
        if (_restore is { } all)
        {
            _restore = null;
            Taskset(["-a", "-c", "-p", all, Environment.ProcessId.ToString(CultureInfo.InvariantCulture)]);
        }
    }

    /// <summary>How many CPUs the load may use: one when pinned, else the machine's.</summary>
    public int LoadCpuCount => Load is null ? Environment.ProcessorCount : Load.Split(',').Length;

    /// <summary>The command run under <c>taskset -c</c> on the servers' CPUs, or as it is when unpinned.</summary>
    public ServerCommand Place(ServerCommand command) => Servers is null
        ? command
        : new("taskset", ["-c", Servers, command.FileName, .. command.Arguments], command.Environment);

    /// <summary>The CPUs this process may run on, from <c>Cpus_allowed_list</c> (e.g. "0-1,4").</summary>
    private static List<int> AllowedCpus()
    {
        var line = File.Exists("/proc/self/status")
            ? File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal))
            : null;
        if (line is null)
        {
            return [.. Enumerable.Range(0, Environment.ProcessorCount)];
        }

        List<int> cpus = [];
        foreach (var part in line["Cpus_allowed_list:".Length..].Trim().Split(',', StringSplitOptions.RemoveEmptyEntries))
        {
            var range = part.Split('-');
            var first = int.Parse(range[0], CultureInfo.InvariantCulture);
            var last = range.Length > 1 ? int.Parse(range[1], CultureInfo.InvariantCulture) : first;
            for (var cpu = first; cpu <= last; cpu++)
            {
                cpus.Add(cpu);
            }
        }

        return cpus;
    }

    private static bool Taskset(string[] args)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("taskset", args) { RedirectStandardOutput = true, RedirectStandardError = true });
            if (process is null)
            {
                return false;
            }

            process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            return process.WaitForExit(5000) && process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
