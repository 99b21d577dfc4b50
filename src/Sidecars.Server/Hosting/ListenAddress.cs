using System.Globalization;
using System.Net;

namespace Sidecars.Server.Hosting;

/// <summary>A listener: a TCP <c>HOST:PORT</c> or a Unix domain socket <c>unix:/path</c>.</summary>
public sealed record ListenAddress(IPAddress? Address, int Port, string? UnixSocketPath)
{
    /// <summary>Parses a listener; the <see cref="FormatException"/> message says what is wrong with <paramref name="text"/>.</summary>
    public static ListenAddress Parse(string text)
    {
        if (text.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = text["unix:".Length..];
            return path.Length == 0 ? throw new FormatException("needs a socket path after 'unix:'") : new ListenAddress(null, 0, path);
        }

        var colon = text.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(text.AsSpan(colon + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var port) || port > 65535)
        {
            throw new FormatException("is not HOST:PORT or unix:/path");
        }

        var host = text[..colon].Trim('[', ']');
        var address = host switch
        {
            "localhost" => IPAddress.Loopback,
            "*" or "0.0.0.0" => IPAddress.Any,
            _ when IPAddress.TryParse(host, out var parsed) => parsed,
            _ => throw new FormatException($"has a host '{host}' that is not an IP address (nor localhost, * or 0.0.0.0)"),
        };
        return new ListenAddress(address, port, null);
    }

    public override string ToString() => UnixSocketPath is not null ? "unix:" + UnixSocketPath : new IPEndPoint(Address!, Port).ToString();
}
