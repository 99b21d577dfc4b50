using System.Net;
using System.Net.Sockets;

namespace Sidecars.Tests.Infrastructure;

/// <summary>
/// Loopback ports for the servers the tests start. A port the kernel hands out for bind(0) lies in the
/// ephemeral range, where any outgoing connection of a parallel test may take it as its source port
/// before the server binds it (CI saw exactly that). So ports come from below that range, each one
/// handed out once per process, and are checked free when handed out.
/// </summary>
internal static class FreePort
{
    private const int First = 10_000;

    /// <summary>Below Linux's default ephemeral start (32768), with a Redis Cluster bus port at +10000 in a band of its own.</summary>
    private const int Last = 20_000;

    private static int _next = Random.Shared.Next(First, Last);

    /// <summary>A loopback port no other test of this process was given, free when checked.</summary>
    public static int Next() => Take(pairOffset: 0);

    internal static int Take(int pairOffset)
    {
        for (var attempt = 0; attempt < Last - First; attempt++)
        {
            var port = First + ((Interlocked.Increment(ref _next) - First) % (Last - First));
            if (Free(port) && (pairOffset == 0 || Free(port + pairOffset)))
            {
                return port;
            }
        }

        throw new InvalidOperationException($"no free loopback port in {First}-{Last}");
    }

    private static bool Free(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}

internal static class FreePortPair
{
    /// <summary>A port P, with P + 10000 (its Redis Cluster bus port) free too.</summary>
    public static int Next() => FreePort.Take(pairOffset: 10_000);
}
