namespace Sidecars.Authorization;

/// <summary>
/// The <c>:authority</c> as routes match it: the port (valid, 0–65535) and one trailing dot removed, an IPv6
/// literal kept with its brackets. A malformed authority is refused rather than matched as some other name,
/// so that it cannot step past a host-restricted route. Letter case is left as sent; matching ignores it.
/// </summary>
public static class RequestHost
{
    /// <summary>RFC 1035: 253 characters of name; with a port and brackets, anything longer is not a host.</summary>
    public const int MaxLength = 262;

    /// <summary>Reads an authority; false with the reason when the request must be refused (400). An empty authority is no host.</summary>
    public static bool TryParse(string authority, out ReadOnlyMemory<char> host, out string? reason)
    {
        host = authority.AsMemory();
        reason = null;
        if (authority.Length == 0)
        {
            return true;
        }

        if (authority.Length > MaxLength)
        {
            reason = "host is too long";
            return false;
        }

        var text = authority.AsSpan();
        int nameEnd;
        if (text[0] == '[')
        {
            // RFC 3986 §3.2.2 IP-literal: hex digits, ':' and a dotted IPv4 tail; no zone identifiers.
            var close = text.IndexOf(']');
            if (close < 0 || text[1..close].IndexOfAnyExcept("0123456789abcdefABCDEF:.") >= 0 || close == 1)
            {
                reason = "host is not a valid IPv6 literal";
                return false;
            }

            nameEnd = close + 1;
            if (nameEnd < text.Length && text[nameEnd] != ':')
            {
                reason = "host has characters after its IPv6 literal";
                return false;
            }
        }
        else
        {
            var colon = text.IndexOf(':');
            nameEnd = colon < 0 ? text.Length : colon;
        }

        if (nameEnd < text.Length && !IsPort(text[(nameEnd + 1)..]))
        {
            reason = "host has an invalid port";
            return false;
        }

        var name = text[..nameEnd];
        if (name.Length == 0)
        {
            reason = "host is not a valid name";
            return false;
        }

        if (name[0] != '[')
        {
            // One trailing dot is the absolute form of the same name (RFC 1034 §3.1): admin.example.com. is admin.example.com.
            if (name.EndsWith('.'))
            {
                name = name[..^1];
            }

            if (!IsName(name))
            {
                reason = "host is not a valid name";
                return false;
            }
        }

        host = authority.AsMemory(0, name.Length);
        return true;
    }

    /// <summary>A route's <c>host</c> as written in config, in the same form: lower case, no trailing dot.</summary>
    public static string Normalize(string pattern)
    {
        var lower = pattern.ToLowerInvariant();
        return lower.Length > 1 && lower.EndsWith('.') ? lower[..^1] : lower;
    }

    /// <summary>Why a route's <c>host</c>, as written in config, could never match a request's host, or null.</summary>
    public static string? ConfigProblem(string pattern)
    {
        var name = pattern.StartsWith("*.", StringComparison.Ordinal) ? pattern[2..] : pattern;
        if (!TryParse(name, out var host, out var reason))
        {
            return reason!.StartsWith("host ", StringComparison.Ordinal) ? reason[5..] : reason;
        }

        return host.Length == 0 || host.Length < name.TrimEnd('.').Length ? "must be a name without a port (ports are ignored)" : null;
    }

    private static bool IsPort(ReadOnlySpan<char> port)
    {
        if (port.Length is 0 or > 5)
        {
            return false;
        }

        var value = 0;
        foreach (var c in port)
        {
            if (!char.IsAsciiDigit(c))
            {
                return false;
            }

            value = (value * 10) + (c - '0');
        }

        return value <= 65535;
    }

    /// <summary>Labels of letters, digits, '-' and '_' (seen in internal names), none empty, none over 63 characters.</summary>
    private static bool IsName(ReadOnlySpan<char> name)
    {
        if (name.Length == 0)
        {
            return false;
        }

        foreach (var range in name.Split('.'))
        {
            var label = name[range];
            if (label.Length is 0 or > 63)
            {
                return false;
            }

            foreach (var c in label)
            {
                if (!char.IsAsciiLetterOrDigit(c) && c is not ('-' or '_'))
                {
                    return false;
                }
            }
        }

        return true;
    }
}
