using System.Runtime.InteropServices;

namespace Sidecars.Server.Hosting;

/// <summary>
/// The few libc calls the runtime has no API for: the open-files limit, and a Unix socket bound by us so that
/// no <see cref="System.Net.Sockets.Socket"/> deletes its file by path when disposed (issue 7, findings 11 and 13).
/// Linux only; every caller checks <see cref="OperatingSystem.IsLinux"/> first. Source-generated marshalling, AOT-safe.
/// </summary>
internal static unsafe partial class Libc
{
    public const int RlimitNofile = 7; // RLIMIT_NOFILE on Linux (x86-64 and arm64 alike)
    public const int AfUnix = 1;
    public const int SockStream = 1;
    public const int SockCloexec = 0x80000;
    public const int SunPathLength = 108; // sizeof(sockaddr_un.sun_path)

    [StructLayout(LayoutKind.Sequential)]
    public struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [LibraryImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    public static partial int GetRLimit(int resource, out RLimit limit);

    [LibraryImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    public static partial int SetRLimit(int resource, in RLimit limit);

    [LibraryImport("libc", EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport("libc", EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(int fd, byte* address, int length);

    [LibraryImport("libc", EntryPoint = "listen", SetLastError = true)]
    public static partial int Listen(int fd, int backlog);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    // glibc exports lstat since 2.33 (Debian 12, Ubuntu 22.04 and later); older ones throw EntryPointNotFoundException.
    [LibraryImport("libc", EntryPoint = "lstat", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int LStat(string path, byte* buffer);

    /// <summary>The inode and file type of <paramref name="path"/> (not following a symlink); null when it does not exist or cannot be read.</summary>
    public static (ulong Inode, bool IsSocket)? Stat(string path)
    {
        // struct stat is 144 bytes on x86-64 and 128 on arm64; st_ino is at offset 8 on both, st_mode at 24 (x86-64) or 16 (arm64).
        var modeOffset = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        var buffer = stackalloc byte[256];
        try
        {
            if (LStat(path, buffer) != 0)
            {
                return null;
            }
        }
        catch (EntryPointNotFoundException)
        {
            return null;
        }

        var inode = *(ulong*)(buffer + 8);
        const uint TypeMask = 0xF000, SocketType = 0xC000; // S_IFMT, S_IFSOCK
        var isSocket = modeOffset < 0 || (*(uint*)(buffer + modeOffset) & TypeMask) == SocketType;
        return (inode, isSocket);
    }

    public static string LastError() => Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
}
