namespace Sidecars.Server.Hosting;

/// <summary>
/// Raises the soft open-files limit (RLIMIT_NOFILE) to the hard limit, which an unprivileged process may do:
/// systemd and many shells start services at a soft 1024, and every client connection, config file and Redis
/// socket is a descriptor (issue 7, finding 11: the reloader failed with "Too many open files").
/// </summary>
internal static class FileLimit
{
    /// <summary>Descriptors kept for config files, Redis and JWKS connections when the connection cap is derived from the limit.</summary>
    public const int Reserve = 128;

    /// <summary>The limit before and after; <c>null</c> where it cannot be read (not Linux).</summary>
    public static (ulong Before, ulong After)? Raise(bool raise)
    {
        if (!OperatingSystem.IsLinux() || Libc.GetRLimit(Libc.RlimitNofile, out var limit) != 0)
        {
            return null;
        }

        var before = limit.Current;
        if (raise && limit.Current < limit.Maximum)
        {
            var raised = limit with { Current = limit.Maximum };
            if (Libc.SetRLimit(Libc.RlimitNofile, raised) == 0)
            {
                limit = raised;
            }
        }

        return (before, limit.Current);
    }
}
