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
}

/// <summary>A header condition: present (<see cref="Value"/> null) or equal to a value.</summary>
public sealed record HeaderCondition(string Name, string? Value);

/// <summary>
/// A route's match: host (exact, or <c>*.suffix</c>), one of path / path_prefix / path_regex on the path
/// without its query, methods, and headers. Every condition given must hold.
/// </summary>
public sealed class RouteMatch(
    string? host = null,
    string? path = null,
    string? pathPrefix = null,
    Regex? pathRegex = null,
    IReadOnlyList<string>? methods = null,
    IReadOnlyList<HeaderCondition>? headers = null)
{
    public string? Host { get; } = host;

    public string? PathExact { get; } = path;

    public string? PathPrefix { get; } = pathPrefix;

    public Regex? PathRegex { get; } = pathRegex;

    public IReadOnlyList<string> Methods { get; } = methods ?? [];

    public IReadOnlyList<HeaderCondition> Headers { get; } = headers ?? [];

    public bool Matches(IRequestView request)
    {
        if (Host is not null && !HostMatches(Host, request.Host))
        {
            return false;
        }

        var path = PathOf(request.Path);
        if ((PathExact is not null && !path.SequenceEqual(PathExact)) ||
            (PathPrefix is not null && !path.StartsWith(PathPrefix, StringComparison.Ordinal)) ||
            (PathRegex is not null && !PathRegex.IsMatch(path)))
        {
            return false;
        }

        if (Methods.Count > 0 && !ContainsMethod(request.Method))
        {
            return false;
        }

        for (var i = 0; i < Headers.Count; i++)
        {
            var value = request.Header(Headers[i].Name);
            if (value is null || (Headers[i].Value is not null && value != Headers[i].Value))
            {
                return false;
            }
        }

        return true;
    }

    private bool ContainsMethod(string method)
    {
        for (var i = 0; i < Methods.Count; i++)
        {
            if (Methods[i] == method)
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

    /// <summary>Exact (case-insensitive, port ignored) or <c>*.example.com</c> for any subdomain of example.com.</summary>
    public static bool HostMatches(string pattern, string host)
    {
        var name = host.AsSpan();
        var colon = name.LastIndexOf(':');
        if (colon > 0 && name[(colon + 1)..].IndexOfAnyExceptInRange('0', '9') < 0 && !name.EndsWith("]", StringComparison.Ordinal))
        {
            name = name[..colon];
        }

        return pattern.StartsWith("*.", StringComparison.Ordinal)
            ? name.Length > pattern.Length - 1 && name.EndsWith(pattern.AsSpan(1), StringComparison.OrdinalIgnoreCase)
            : name.Equals(pattern, StringComparison.OrdinalIgnoreCase);
    }
}
