using System.Net.Sockets;

namespace Sidecars.Server.Hosting;

/// <summary>
/// Binds a TCP listener's address once before Kestrel does, so a port in use or an address this host does not have
/// is reported as one line naming the listener (issue 7, finding 14), instead of Kestrel's
/// "Failed to bind to address http://..." with a stack trace, which also calls the gRPC listener http.
/// </summary>
internal static class TcpPortCheck
{
    public static void EnsureFree(ListenAddress address, string listener)
    {
        if (address.Port == 0)
        {
            return;
        }

        using var probe = new Socket(address.Address!.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        // As Kestrel does: a port held only by connections in TIME_WAIT is free to listen on.
        probe.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        try
        {
            probe.Bind(new System.Net.IPEndPoint(address.Address, address.Port));
            probe.Listen(1);
        }
        catch (SocketException e)
        {
            throw new StartupException($"{listener} {address}: {Describe(e.SocketErrorCode, e.Message)}");
        }
    }

    /// <summary>The common causes in the operator's words; the OS's text for the rest.</summary>
    public static string Describe(SocketError error, string message) => error switch
    {
        SocketError.AddressAlreadyInUse => "address already in use (another process listens on this port)",
        SocketError.AddressNotAvailable => "cannot assign requested address (no interface of this host has it)",
        SocketError.AccessDenied => "permission denied (ports under 1024 need privileges)",
        _ => message,
    };
}
