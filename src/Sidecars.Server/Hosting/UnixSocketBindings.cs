using System.Net.Sockets;
using System.Text;

namespace Sidecars.Server.Hosting;

/// <summary>
/// Unix domain sockets bound by us and handed to Kestrel as file descriptors (issue 7, finding 13):
/// an existing socket file is removed only when nobody accepts on it, a live one stops the start with one line,
/// the file gets the configured mode, and at exit only the file we created (same inode) is deleted.
/// Kestrel's own <c>ListenUnixSocket</c> deletes whatever file is at the path when its socket is disposed.
/// </summary>
internal sealed class UnixSocketBindings : IDisposable
{
    private readonly List<(int Fd, string Path, ulong? Inode)> _bound = [];

    /// <summary>Binds and listens on <paramref name="path"/>; returns the descriptor for <c>ListenHandle</c>.</summary>
    public int Bind(string path, string listener, UnixFileMode? mode)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new StartupException($"{listener} unix:{path}: Unix sockets are supported on Linux only");
        }

        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full);
        if (directory is not null && !Directory.Exists(directory))
        {
            throw new StartupException($"{listener} unix:{path}: directory {directory} does not exist");
        }

        var bytes = Encoding.UTF8.GetBytes(full);
        if (bytes.Length >= Libc.SunPathLength)
        {
            throw new StartupException($"{listener} unix:{path}: the path is {bytes.Length} bytes, a Unix socket path must be under {Libc.SunPathLength}");
        }

        RemoveStale(full, listener);
        var fd = Libc.Socket(Libc.AfUnix, Libc.SockStream | Libc.SockCloexec, 0);
        if (fd < 0)
        {
            throw new StartupException($"{listener} unix:{path}: cannot create a socket: {Libc.LastError()}");
        }

        try
        {
            unsafe
            {
                // struct sockaddr_un { sa_family_t sun_family; char sun_path[108]; }, NUL-terminated path.
                var address = stackalloc byte[2 + Libc.SunPathLength];
                new Span<byte>(address, 2 + Libc.SunPathLength).Clear();
                *(ushort*)address = Libc.AfUnix;
                bytes.CopyTo(new Span<byte>(address + 2, Libc.SunPathLength));
                if (Libc.Bind(fd, address, 2 + Libc.SunPathLength) != 0)
                {
                    throw new StartupException($"{listener} unix:{path}: cannot bind: {Libc.LastError()}");
                }
            }

            if (mode is { } m)
            {
                // Applied after bind: the file only exists now. Connecting needs write permission on it.
                File.SetUnixFileMode(full, m);
            }

            if (Libc.Listen(fd, 512) != 0)
            {
                throw new StartupException($"{listener} unix:{path}: cannot listen: {Libc.LastError()}");
            }
        }
        catch
        {
            Libc.Close(fd);
            throw;
        }

        _bound.Add((fd, full, Libc.Stat(full)?.Inode));
        return fd;
    }

    /// <summary>A socket file whose listener is gone makes bind fail; one that still accepts belongs to a live process.</summary>
    private static void RemoveStale(string path, string listener)
    {
        if (Libc.Stat(path) is not { } existing)
        {
            return;
        }

        if (!existing.IsSocket)
        {
            throw new StartupException($"{listener} unix:{path}: the path exists and is not a socket");
        }

        using var probe = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            probe.Connect(new UnixDomainSocketEndPoint(path));
        }
        catch (SocketException e) when (e.SocketErrorCode == SocketError.ConnectionRefused)
        {
            File.Delete(path); // nobody accepts: a previous run's file
            return;
        }
        catch (SocketException e)
        {
            throw new StartupException($"{listener} unix:{path}: cannot check whether the socket is in use: {e.Message}");
        }

        throw new StartupException($"{listener} unix socket {path} is in use by another process");
    }

    public void Dispose()
    {
        foreach (var (fd, path, inode) in _bound)
        {
            Libc.Close(fd);
            // Another instance may have replaced the file since (after someone removed ours): leave theirs alone.
            if (inode is not null && Libc.Stat(path)?.Inode == inode)
            {
                File.Delete(path);
            }
        }

        _bound.Clear();
    }
}
