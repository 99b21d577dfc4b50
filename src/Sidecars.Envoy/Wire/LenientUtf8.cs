using System.Buffers;
using System.Text;
using System.Text.Unicode;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// Turns any byte string into UTF-8 text, deterministically and injectively, so a protobuf <c>string</c> field
/// that is not valid UTF-8 (Envoy forwards obs-text header bytes as they came) can still be read and decided.
/// </summary>
/// <remarks>
/// Valid UTF-8 without U+FFFD is left as it is (the common case costs nothing). Anything else is escaped with
/// U+FFFD as the escape character: each byte of an invalid sequence becomes U+FFFD and two uppercase hex digits
/// (<c>0xFF</c> → <c>"\uFFFDFF"</c>), and a U+FFFD that was really sent becomes U+FFFD U+FFFD. Every escaped
/// form contains U+FFFD and unescapes uniquely, while unescaped text never contains it, so two different byte
/// strings never map to the same text (a rate limit key is its bytes). UTF-8-encoded surrogates are invalid
/// sequences, so the result never holds a lone surrogate.
/// </remarks>
public static class LenientUtf8
{
    /// <summary>The escape character, U+FFFD REPLACEMENT CHARACTER.</summary>
    public const char Escape = '\uFFFD';

    private static ReadOnlySpan<byte> EscapeBytes => [0xEF, 0xBF, 0xBD];

    private static ReadOnlySpan<byte> Hex => "0123456789ABCDEF"u8;

    /// <summary>True when <paramref name="bytes"/> is not left as it is: invalid UTF-8, or it holds U+FFFD.</summary>
    public static bool NeedsEscaping(ReadOnlySpan<byte> bytes) => !Utf8.IsValid(bytes) || bytes.IndexOf(EscapeBytes) >= 0;

    /// <summary>True when the UTF-8 of U+FFFD appears anywhere in <paramref name="payload"/>, across segment ends too.</summary>
    public static bool ContainsEscape(in ReadOnlySequence<byte> payload)
    {
        if (payload.IsSingleSegment)
        {
            return payload.FirstSpan.IndexOf(EscapeBytes) >= 0;
        }

        // The last two bytes seen, so that an EF BF BD split across segments is found too.
        int previous2 = -1, previous1 = -1;
        foreach (var segment in payload)
        {
            var span = segment.Span;
            if (span.IsEmpty)
            {
                continue;
            }

            if (span.IndexOf(EscapeBytes) >= 0
                || (previous2 == 0xEF && previous1 == 0xBF && span[0] == 0xBD)
                || (previous1 == 0xEF && span.Length > 1 && span[0] == 0xBF && span[1] == 0xBD))
            {
                return true;
            }

            previous2 = span.Length > 1 ? span[^2] : previous1;
            previous1 = span[^1];
        }

        return false;
    }

    /// <summary>Writes the escaped UTF-8 form of <paramref name="bytes"/> (see the remarks of the type).</summary>
    public static void WriteEscaped(ReadOnlySpan<byte> bytes, IBufferWriter<byte> output)
    {
        while (!bytes.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(bytes, out var rune, out var consumed);
            if (status == OperationStatus.Done)
            {
                if (rune.Value == Escape)
                {
                    output.Write(EscapeBytes);
                }

                output.Write(bytes[..consumed]);
            }
            else
            {
                // InvalidData or NeedMoreData: every byte of the maximal invalid subsequence is escaped on its own.
                for (var i = 0; i < consumed; i++)
                {
                    var span = output.GetSpan(5);
                    EscapeBytes.CopyTo(span);
                    span[3] = Hex[bytes[i] >> 4];
                    span[4] = Hex[bytes[i] & 0xF];
                    output.Advance(5);
                }
            }

            bytes = bytes[consumed..];
        }
    }

    /// <summary>The escaped length in bytes of <paramref name="bytes"/>, so a caller can write its length prefix first.</summary>
    public static int EscapedLength(ReadOnlySpan<byte> bytes)
    {
        var length = 0;
        while (!bytes.IsEmpty)
        {
            var status = Rune.DecodeFromUtf8(bytes, out var rune, out var consumed);
            length += status != OperationStatus.Done ? consumed * 5 : rune.Value == Escape ? consumed + 3 : consumed;
            bytes = bytes[consumed..];
        }

        return length;
    }

    /// <summary>The text <paramref name="bytes"/> stands for (see the remarks of the type).</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        if (!NeedsEscaping(bytes))
        {
            return Encoding.UTF8.GetString(bytes);
        }

        var output = new ArrayBufferWriter<byte>(EscapedLength(bytes));
        WriteEscaped(bytes, output);
        return Encoding.UTF8.GetString(output.WrittenSpan);
    }
}
