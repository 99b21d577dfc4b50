using System.Net;

namespace Sidecars.Authentication;

/// <summary>
/// Where keys may be fetched from (issue 7, finding 7). Keys decide who is authenticated, so they travel over
/// TLS: <c>https://</c> only, except plain <c>http://</c> to a loopback host (127.0.0.0/8, <c>::1</c>,
/// <c>localhost</c>) — a local IdP or a test server, which no network attacker sits between. No user info in
/// the URI (it would be a secret in the config, the logs and /readyz). Used for <c>remote_jwks.uri</c>,
/// <c>discovery</c> and the <c>jwks_uri</c> a discovery document names.
/// </summary>
public static class JwksUriPolicy
{
    /// <summary>Null when <paramref name="text"/> may be fetched, else why not (no URI text in the message).</summary>
    public static string? Check(string? text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri) && !(uri.IsFile && !text!.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
            ? Check(uri)
            : "not an absolute URI"; // "/x" is a file URI to .NET on Unix, not what a config author meant

    /// <inheritdoc cref="Check(string?)"/>
    public static string? Check(Uri uri)
    {
        if (!uri.IsAbsoluteUri)
        {
            return "not an absolute URI";
        }

        if (uri.Scheme != Uri.UriSchemeHttps && uri.Scheme != Uri.UriSchemeHttp)
        {
            return "the URI must be https";
        }

        if (uri.UserInfo.Length > 0)
        {
            return "the URI must not carry user info";
        }

        return uri.Scheme == Uri.UriSchemeHttp && !IsLoopback(uri) ? "https is required (plain http only to a loopback host)" : null;
    }

    /// <summary>
    /// A literal loopback address or the name <c>localhost</c>. Not <see cref="Uri.IsLoopback"/> alone: names are
    /// compared exactly (<c>127.0.0.1.nip.io</c> is a DNS name, not an address), and 0.0.0.0 is not loopback.
    /// </summary>
    public static bool IsLoopback(Uri uri)
    {
        if (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6)
        {
            return IPAddress.TryParse(uri.IdnHost.Trim('[', ']'), out var address) &&
                (IPAddress.IsLoopback(address) || (address.IsIPv4MappedToIPv6 && IPAddress.IsLoopback(address.MapToIPv4())));
        }

        return uri.HostNameType == UriHostNameType.Dns && string.Equals(uri.IdnHost, "localhost", StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>The URI without user info, query or fragment: safe for logs and /readyz.</summary>
    public static string Redact(Uri uri) =>
        uri.IsAbsoluteUri ? uri.GetComponents(UriComponents.SchemeAndServer | UriComponents.Path, UriFormat.UriEscaped) : "(relative URI)";
}
