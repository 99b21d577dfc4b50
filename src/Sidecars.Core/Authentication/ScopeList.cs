using System.Buffers;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Unicode;
using System.Text.Json;

namespace Sidecars.Authentication;

/// <summary>
/// A space-separated <c>scope</c> claim (RFC 8693 §4.2) searched in the token's own UTF-8, without a string or an
/// array per scope: the claim is unescaped (when it has escapes) and the wanted scope transcoded into stack buffers.
/// </summary>
internal static class ScopeList
{
    private const int StackLimit = 512;

    /// <summary>Whether the JSON string <paramref name="value"/>, split at spaces, holds <paramref name="scope"/> exactly.</summary>
    public static bool Contains(JsonElement value, string scope)
    {
        // The raw value is the JSON string with its quotes, escapes as sent.
        var raw = JsonMarshal.GetRawUtf8Value(value);
        byte[]? rentedText = null;
        byte[]? rentedScope = null;
        var textBuffer = raw.Length <= StackLimit ? stackalloc byte[raw.Length] : (rentedText = ArrayPool<byte>.Shared.Rent(raw.Length));
        var scopeLength = Encoding.UTF8.GetMaxByteCount(scope.Length);
        var scopeBuffer = scopeLength <= StackLimit ? stackalloc byte[scopeLength] : (rentedScope = ArrayPool<byte>.Shared.Rent(scopeLength));
        try
        {
            scoped ReadOnlySpan<byte> text;
            if (raw.IndexOf((byte)'\\') < 0)
            {
                text = raw[1..^1];
            }
            else
            {
                // Unescaped as the reader does (the validator admitted only valid I-JSON, so this cannot fail).
                var reader = new Utf8JsonReader(raw);
                reader.Read();
                text = textBuffer[..reader.CopyString(textBuffer)];
            }

            // A lone surrogate has no UTF-8: no claim of valid I-JSON can hold it, rather than matching U+FFFD.
            if (Utf8.FromUtf16(scope, scopeBuffer, out _, out var written, replaceInvalidSequences: false) != OperationStatus.Done)
            {
                return false;
            }

            var wanted = scopeBuffer[..written];
            while (text.Length > 0)
            {
                var space = text.IndexOf((byte)' ');
                var part = space < 0 ? text : text[..space];
                if (part.SequenceEqual(wanted))
                {
                    return true;
                }

                text = space < 0 ? default : text[(space + 1)..];
            }

            return false;
        }
        finally
        {
            if (rentedText is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedText);
            }

            if (rentedScope is not null)
            {
                ArrayPool<byte>.Shared.Return(rentedScope);
            }
        }
    }
}
