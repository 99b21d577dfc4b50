using System.Net;
using System.Net.Sockets;

namespace Sidecars.Tests.Infrastructure;

internal static class FreePort
{
    /// <summary>A loopback port that was free a moment ago.</summary>
    public static int Next()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

internal static class FreePortPair
{
    /// <summary>A port P, with P + 10000 (its Redis Cluster bus port) free too.</summary>
    public static int Next()
    {
        for (var attempt = 0; attempt < 200; attempt++)
        {
            var port = Random.Shared.Next(20_000, 55_000);
            if (Free(port) && Free(port + 10_000))
            {
                return port;
            }
        }

        throw new InvalidOperationException("no free port pair for a Redis Cluster node");
    }

    private static bool Free(int port)
    {
        try
        {
            using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }
}
