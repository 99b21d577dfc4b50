using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace Sidecars.Authorization.Services;

/// <summary>
/// A string claim's characters without making a string: the token's own UTF-8 bytes decoded into a per-thread
/// buffer when the JSON holds no escape (no backslash: the usual case), else <see cref="JsonElement.GetString"/>. A cached
/// decision reads <c>sub</c> for a limit key and a tenant for a prefix rule on every call.
/// </summary>
internal static class ClaimText
{
    private const int BufferLength = 1024;

    [ThreadStatic]
    private static char[]? t_buffer;

    /// <summary>A string claim's UTF-8 bytes as the token holds them; false when they hold an escape (then only <see cref="Of"/> reads it right).</summary>
    public static bool TryRawUtf8(JsonElement value, out ReadOnlySpan<byte> utf8)
    {
        var raw = JsonMarshal.GetRawUtf8Value(value);
        utf8 = raw.Length >= 2 ? raw[1..^1] : default;
        return raw.Length >= 2 && !utf8.Contains((byte)'\\');
    }

    /// <summary>
    /// The characters of a string <paramref name="value"/>, or of a number or boolean as the token writes it
    /// (<c>42</c>, <c>true</c>); valid until the next call on this thread.
    /// </summary>
    public static ReadOnlySpan<char> Of(JsonElement value)
    {
        var isString = value.ValueKind == JsonValueKind.String;
        var raw = JsonMarshal.GetRawUtf8Value(value);
        var content = isString && raw.Length >= 2 ? raw[1..^1] : raw;

        // Every JSON escape starts with a backslash: without one, the bytes are the value.
        if (content.Length > BufferLength || (isString && content.Contains((byte)'\\')))
        {
            return isString ? value.GetString() : value.GetRawText();
        }

        var buffer = t_buffer ??= new char[BufferLength];
        var written = Encoding.UTF8.GetChars(content, buffer);
        return buffer.AsSpan(0, written);
    }
}
