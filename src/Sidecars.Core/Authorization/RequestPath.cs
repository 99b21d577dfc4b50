using System.Buffers;
using System.Text;

namespace Sidecars.Authorization;

/// <summary>How a reading of a path differs from the normalised one; see <see cref="RequestPath.Readings"/>.</summary>
[Flags]
public enum PathReading
{
    /// <summary>Dot segments resolved and repeated slashes merged, as RFC 3986 and Envoy's normalize_path + merge_slashes.</summary>
    Normal = 0,

    /// <summary>Dot segments kept: an upstream that does not resolve them.</summary>
    DotsKept = 1,

    /// <summary>Repeated slashes kept: an upstream that does not merge them.</summary>
    SlashesKept = 2,

    /// <summary><c>;</c> parameters dropped from each segment (Tomcat, Jetty, Spring) and <c>%2F</c> / <c>%3B</c> decoded.</summary>
    Lenient = 4,
}

/// <summary>
/// The request path routes are matched on, normalised as RFC 3986 §6 and Envoy's <c>normalize_path</c> +
/// <c>merge_slashes</c> do (query and fragment stripped, unreserved escapes decoded, other escapes upper-cased,
/// dot segments removed per §5.2.4, repeated slashes merged), and the other readings an upstream may make of
/// the same bytes (<see cref="PathReading"/>): each set only when it differs from <see cref="Value"/>. The
/// evaluator refuses a request whose readings select different requirements (issue 7, finding 3).
/// </summary>
public readonly struct RequestPath(ReadOnlyMemory<char> value, (string Path, PathReading Kind)[]? readings = null)
{
    /// <summary>Longest path accepted (without its query), in characters; Envoy's own header limit is 60 KiB, nginx's request line 8 KiB.</summary>
    public const int MaxLength = 8192;

    /// <summary>The normalised path (a slice of the request's string when it was already normal: no allocation).</summary>
    public ReadOnlyMemory<char> Value { get; } = value;

    /// <summary>The other readings of the path that differ from <see cref="Value"/>, each once; empty for an already-normal path.</summary>
    public ReadOnlySpan<(string Path, PathReading Kind)> Readings => readings;

    /// <summary>The reading of that kind, or null when it is <see cref="Value"/>.</summary>
    public string? Reading(PathReading kind)
    {
        foreach (var (path, k) in Readings)
        {
            if (k == kind)
            {
                return path;
            }
        }

        return null;
    }

    /// <summary>
    /// Why a route's <c>path</c> or <c>path_prefix</c>, as written in config, could never equal a normalised
    /// request path (so the route would silently never match), or null when it is in normal form.
    /// </summary>
    public static string? ConfigProblem(string value)
    {
        if (value.AsSpan().IndexOfAny('?', '#') >= 0)
        {
            return "must not contain '?' or '#' (the query is never matched)";
        }

        if (!TryParse(value, "GET", out var path, out var reason))
        {
            // The reasons read "path contains ..."; the caller names the key.
            return reason!.StartsWith("path ", StringComparison.Ordinal) ? reason[5..] : reason;
        }

        return path.Value.Span.SequenceEqual(value) ? null : $"is not in normal form: request paths are normalised, write '{path.Value}'";
    }

    // Visible ASCII that needs no attention; '%', ';' and '\' send the path to the slow reading.
    private static readonly SearchValues<char> Plain = SearchValues.Create(
        "!\"#$&'()*+,-./0123456789:<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");

    /// <summary>Reads Envoy's <c>:path</c>; false with the reason when the request must be refused (400).</summary>
    public static bool TryParse(string raw, string method, out RequestPath path, out string? reason)
    {
        path = default;
        var end = raw.AsSpan().IndexOfAny('?', '#');
        var part = end < 0 ? raw.AsSpan() : raw.AsSpan(0, end);
        if (part.Length > MaxLength)
        {
            // The query is not capped here: it may carry a token (from_params), bounded by max_token_size and Envoy's header limit.
            reason = $"path is longer than {MaxLength} characters";
            return false;
        }

        if (part.Length == 0 || part[0] != '/')
        {
            // RFC 9112 §3.2: origin-form, or asterisk-form for a server-wide OPTIONS; CONNECT carries no path.
            if ((part is "*" && method.Equals("OPTIONS", StringComparison.OrdinalIgnoreCase)) ||
                (raw.Length == 0 && method.Equals("CONNECT", StringComparison.OrdinalIgnoreCase)))
            {
                path = new RequestPath(raw.AsMemory(0, part.Length));
                reason = null;
                return true;
            }

            reason = "path is not in origin form (it must start with '/')";
            return false;
        }

        if (part.IndexOfAnyExcept(Plain) < 0 && !part.Contains("//", StringComparison.Ordinal) && !HasDotSegment(part))
        {
            path = new RequestPath(raw.AsMemory(0, part.Length));
            reason = null;
            return true;
        }

        return TryNormalize(part, out path, out reason);
    }

    private static bool HasDotSegment(ReadOnlySpan<char> path)
    {
        for (var i = 1; i < path.Length; i++)
        {
            if (path[i] == '.' && path[i - 1] == '/')
            {
                var next = i + 1 < path.Length ? path[i + 1] : '/';
                if (next == '/' || (next == '.' && (i + 2 == path.Length || path[i + 2] == '/')))
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>The slow reading, for paths with escapes, parameters, dot segments, repeated slashes or refused characters.</summary>
    private static bool TryNormalize(ReadOnlySpan<char> part, out RequestPath path, out string? reason)
    {
        path = default;
        var segments = new List<string>();
        var lenient = new List<string>();
        var hasLenientReading = false;
        var segment = new StringBuilder();
        foreach (var range in part[1..].Split('/'))
        {
            segment.Clear();
            var raw = part[1..][range];
            var encodedDot = false;
            for (var i = 0; i < raw.Length; i++)
            {
                var c = raw[i];
                if (c == '%')
                {
                    if (i + 2 >= raw.Length || !IsHex(raw[i + 1]) || !IsHex(raw[i + 2]))
                    {
                        reason = "path has a malformed percent-encoding";
                        return false;
                    }

                    var value = (char)((HexValue(raw[i + 1]) << 4) | HexValue(raw[i + 2]));
                    i += 2;
                    if (value < 0x20 || value == 0x7F)
                    {
                        reason = "path contains an encoded control character";
                        return false;
                    }

                    if (value == '\\')
                    {
                        reason = "path contains an encoded backslash";
                        return false;
                    }

                    if (value is (char)0xC0 or (char)0xC1)
                    {
                        // Lead bytes of overlong UTF-8 only (%C0%AF is '/' to a lax decoder): never valid, so never needed.
                        reason = "path contains an overlong UTF-8 encoding";
                        return false;
                    }

                    if (value == '%' && i + 2 < raw.Length && IsDoubleEncoded(raw[(i + 1)..(i + 3)]))
                    {
                        // %252e, %252f, %255c: an upstream that decodes twice reads a dot, slash or backslash.
                        reason = "path contains a double-encoded dot, slash or backslash";
                        return false;
                    }

                    if (IsUnreserved(value))
                    {
                        // RFC 3986 §6.2.2.2: %61 is 'a'; an encoded '.' is decoded too, but may not make a dot segment.
                        segment.Append(value);
                        encodedDot |= value == '.';
                    }
                    else
                    {
                        // RFC 3986 §6.2.2.1: other escapes stay, with upper-case hex (%2f reads as %2F).
                        segment.Append('%').Append(char.ToUpperInvariant(raw[i - 1])).Append(char.ToUpperInvariant(raw[i]));
                        hasLenientReading |= value is '/' or ';';
                    }
                }
                else if (c == '\\')
                {
                    // Windows, IIS and some Node servers read '\' as '/'; RFC 3986 does not allow it in a path.
                    reason = "path contains a backslash";
                    return false;
                }
                else if (c < 0x21 || c > 0x7E)
                {
                    reason = "path contains a control, space or non-ASCII character";
                    return false;
                }
                else
                {
                    hasLenientReading |= c == ';';
                    segment.Append(c);
                }
            }

            var text = segment.ToString();
            if (encodedDot && text is "." or "..")
            {
                reason = "path contains an encoded dot segment";
                return false;
            }

            segments.Add(text);

            // The lenient reading: an encoded ';' read as one, ';' parameters dropped from the segment (Tomcat,
            // Jetty, Spring), then %2F decoded.
            var readable = text.Replace("%3B", ";", StringComparison.Ordinal);
            var semicolon = readable.IndexOf(';', StringComparison.Ordinal);
            if (semicolon >= 0 && readable.AsSpan(semicolon).Contains("%2F", StringComparison.Ordinal))
            {
                // Stripping parameters before or after decoding would then give different paths: refuse rather than guess.
                reason = "path has an encoded slash inside a ';' parameter";
                return false;
            }

            lenient.AddRange((semicolon < 0 ? readable : readable[..semicolon]).Split("%2F"));
        }

        var normal = Render(segments, PathReading.Normal);
        var readings = new List<(string, PathReading)>();
        foreach (var kind in (ReadOnlySpan<PathReading>)[PathReading.DotsKept, PathReading.SlashesKept, PathReading.DotsKept | PathReading.SlashesKept])
        {
            Add(readings, normal, Render(segments, kind), kind);
        }

        if (hasLenientReading)
        {
            foreach (var kind in (ReadOnlySpan<PathReading>)[PathReading.Normal, PathReading.DotsKept, PathReading.SlashesKept, PathReading.DotsKept | PathReading.SlashesKept])
            {
                Add(readings, normal, Render(lenient, kind), kind | PathReading.Lenient);
            }
        }

        path = new RequestPath(normal.AsMemory(), readings.Count == 0 ? null : [.. readings]);
        reason = null;
        return true;
    }

    private static void Add(List<(string Path, PathReading Kind)> readings, string normal, string reading, PathReading kind)
    {
        if (reading == normal)
        {
            return;
        }

        foreach (var (path, _) in readings)
        {
            if (path == reading)
            {
                return;
            }
        }

        readings.Add((reading, kind));
    }

    /// <summary>
    /// The segments as a path: dot segments resolved per RFC 3986 §5.2.4 (<c>..</c> above the root dropped) unless
    /// <see cref="PathReading.DotsKept"/>, empty segments dropped (a trailing slash kept) unless <see cref="PathReading.SlashesKept"/>.
    /// </summary>
    private static string Render(List<string> segments, PathReading kind)
    {
        var resolveDots = (kind & PathReading.DotsKept) == 0;
        var merge = (kind & PathReading.SlashesKept) == 0;
        var kept = new List<string>(segments.Count);
        var trailingSlash = false;
        for (var i = 0; i < segments.Count; i++)
        {
            var segment = segments[i];
            var last = i == segments.Count - 1;
            if (resolveDots && segment == ".")
            {
                trailingSlash = last;
            }
            else if (resolveDots && segment == "..")
            {
                if (kept.Count > 0)
                {
                    kept.RemoveAt(kept.Count - 1);
                }

                trailingSlash = last;
            }
            else if (merge && segment.Length == 0)
            {
                trailingSlash = last;
            }
            else
            {
                kept.Add(segment);
                trailingSlash = false;
            }
        }

        return kept.Count == 0 ? "/" : "/" + string.Join('/', kept) + (trailingSlash ? "/" : string.Empty);
    }

    private static bool IsDoubleEncoded(ReadOnlySpan<char> hex) =>
        hex.Equals("2e", StringComparison.OrdinalIgnoreCase) || hex.Equals("2f", StringComparison.OrdinalIgnoreCase) || hex.Equals("5c", StringComparison.OrdinalIgnoreCase);

    /// <summary>RFC 3986 §2.3: ALPHA / DIGIT / "-" / "." / "_" / "~".</summary>
    private static bool IsUnreserved(char c) => char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~';

    private static bool IsHex(char c) => char.IsAsciiHexDigit(c);

    private static int HexValue(char c) => c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10;
}
