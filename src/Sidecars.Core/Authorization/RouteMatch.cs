using System.Text.RegularExpressions;

namespace Sidecars.Authorization;

/// <summary>What a request needs the attributes of, to be matched and authorized: Envoy's lower-cased view.</summary>
public interface IRequestView
{
    string Method { get; }

    /// <summary>The <c>:authority</c>, possibly with a port.</summary>
    string Host { get; }

    /// <summary>The path as Envoy sends it, query string included (undecoded).</summary>
    string Path { get; }

    /// <summary>A header by lower-case name, or null.</summary>
    string? Header(string name);

    /// <summary>Whether the request has the header; a view may answer without reading its value.</summary>
    bool HasHeader(string name) => Header(name) is not null;

    /// <summary>A header by lower-case name as characters valid for the request; a view may skip making a string.</summary>
    bool TryHeader(string name, out ReadOnlySpan<char> value)
    {
        var text = Header(name);
        value = text;
        return text is not null;
    }

    /// <summary>The downstream address Envoy reports (<c>source.address.socket_address.address</c>), as characters valid for the request.</summary>
    bool TrySourceAddress(out ReadOnlySpan<char> address)
    {
        address = default;
        return false;
    }

    /// <summary>The mTLS peer's identity (<c>source.principal</c>), as characters valid for the request.</summary>
    bool TryPrincipal(out ReadOnlySpan<char> principal)
    {
        principal = default;
        return false;
    }

    /// <summary>One of the route's <c>context_extensions</c>, as characters valid for the request.</summary>
    bool TryContextExtension(string key, out ReadOnlySpan<char> value)
    {
        value = default;
        return false;
    }
}

/// <summary>A header condition: present (<see cref="Value"/> null) or equal to a value.</summary>
public sealed record HeaderCondition(string Name, string? Value);

/// <summary>
/// A request as routes see it, read once per request: the normalised path and its other readings
/// (<see cref="RequestPath"/>), the host without port or trailing dot (<see cref="RequestHost"/>), and the
/// method as sent (compared case-insensitively). Headers are read from <see cref="Request"/>.
/// </summary>
public readonly struct RouteRequest(IRequestView request, ReadOnlyMemory<char> host, RequestPath path)
{
    public IRequestView Request { get; } = request;

    public ReadOnlyMemory<char> Host { get; } = host;

    public RequestPath Path { get; } = path;

    /// <summary>False with the reason (for a 400) when the path or host is malformed or ambiguous by itself.</summary>
    public static bool TryCreate(IRequestView request, out RouteRequest facts, out string? reason)
    {
        facts = default;
        if (!RequestPath.TryParse(request.Path, request.Method, out var path, out reason) ||
            !RequestHost.TryParse(request.Host, out var host, out reason))
        {
            return false;
        }

        facts = new RouteRequest(request, host, path);
        return true;
    }
}

/// <summary>
/// A route's match: host (exact, or <c>*.suffix</c>; case-insensitive, port and trailing dot ignored), one of
/// path / path_prefix / path_regex on the normalised path (case-sensitive, as Envoy's <c>case_sensitive</c>
/// default), methods (case-insensitive), and headers. Every condition given must hold.
/// </summary>
public sealed class RouteMatch(
    string? host = null,
    string? path = null,
    string? pathPrefix = null,
    Regex? pathRegex = null,
    IReadOnlyList<string>? methods = null,
    IReadOnlyList<HeaderCondition>? headers = null)
{
    public string? Host { get; } = host is null ? null : RequestHost.Normalize(host);

    public string? PathExact { get; } = path;

    public string? PathPrefix { get; } = pathPrefix;

    public Regex? PathRegex { get; } = pathRegex;

    public IReadOnlyList<string> Methods { get; } = methods ?? [];

    public IReadOnlyList<HeaderCondition> Headers { get; } = headers ?? [];

    /// <summary>Reads the request and matches it; a malformed request matches nothing. The evaluator reads the request once instead.</summary>
    public bool Matches(IRequestView request) =>
        RouteRequest.TryCreate(request, out var facts, out _) && Matches(facts, facts.Path.Value.Span, ignoreCase: false);

    /// <summary>
    /// Matches one reading of the request's path. <paramref name="ignoreCase"/> compares exact and prefix paths
    /// ignoring ASCII case, to find routes a case-insensitive upstream would serve; a regex is taken as written
    /// (it can say <c>(?i)</c> itself).
    /// </summary>
    public bool Matches(in RouteRequest request, ReadOnlySpan<char> path, bool ignoreCase)
    {
        if (Host is not null && !HostMatches(Host, request.Host.Span))
        {
            return false;
        }

        var comparison = ignoreCase ? StringComparison.OrdinalIgnoreCase : StringComparison.Ordinal;
        if ((PathExact is not null && !path.Equals(PathExact, comparison)) ||
            (PathPrefix is not null && !path.StartsWith(PathPrefix, comparison)) ||
            (PathRegex is not null && !PathRegex.IsMatch(path)))
        {
            return false;
        }

        if (Methods.Count > 0 && !ContainsMethod(request.Request.Method))
        {
            return false;
        }

        for (var i = 0; i < Headers.Count; i++)
        {
            var value = request.Request.Header(Headers[i].Name);
            if (value is null || (Headers[i].Value is not null && value != Headers[i].Value))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Why this match does not hold for the request (its first failing condition), or null when it does; for <c>sidecars explain</c>.</summary>
    public string? Mismatch(in RouteRequest request)
    {
        var path = request.Path.Value.Span;
        if (Host is not null && !HostMatches(Host, request.Host.Span))
        {
            return $"host is not {Host}";
        }

        if (PathExact is not null && !path.Equals(PathExact, StringComparison.Ordinal))
        {
            return $"path is not {PathExact}";
        }

        if (PathPrefix is not null && !path.StartsWith(PathPrefix, StringComparison.Ordinal))
        {
            return $"path does not start with {PathPrefix}";
        }

        if (PathRegex is not null && !PathRegex.IsMatch(path))
        {
            return "path does not match its path_regex";
        }

        if (Methods.Count > 0 && !ContainsMethod(request.Request.Method))
        {
            return $"method is not one of {string.Join(", ", Methods)}";
        }

        foreach (var header in Headers)
        {
            var value = request.Request.Header(header.Name);
            if (value is null || (header.Value is not null && value != header.Value))
            {
                return header.Value is null ? $"header {header.Name} is absent" : $"header {header.Name} is not '{header.Value}'";
            }
        }

        return null;
    }

    /// <summary>RFC 9110 §9.1 says methods are case-sensitive, but a non-canonical <c>post</c> must not skip a <c>POST</c> route.</summary>
    private bool ContainsMethod(string method)
    {
        for (var i = 0; i < Methods.Count; i++)
        {
            if (Methods[i].Equals(method, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>The path without query string or fragment.</summary>
    public static ReadOnlySpan<char> PathOf(string path)
    {
        var end = path.AsSpan().IndexOfAny('?', '#');
        return end < 0 ? path : path.AsSpan(0, end);
    }

    /// <summary>Exact (case-insensitive, port and trailing dot ignored) or <c>*.example.com</c> for any subdomain of example.com; a malformed host matches nothing.</summary>
    public static bool HostMatches(string pattern, string host) =>
        RequestHost.TryParse(host, out var name, out _) && HostMatches(RequestHost.Normalize(pattern), name.Span);

    /// <summary>Matches a host already read by <see cref="RequestHost.TryParse"/> against a normalised pattern.</summary>
    private static bool HostMatches(string pattern, ReadOnlySpan<char> name) =>
        pattern.StartsWith("*.", StringComparison.Ordinal)
            ? name.Length > pattern.Length - 1 && name.EndsWith(pattern.AsSpan(1), StringComparison.OrdinalIgnoreCase)
            : name.Equals(pattern, StringComparison.OrdinalIgnoreCase);
}
