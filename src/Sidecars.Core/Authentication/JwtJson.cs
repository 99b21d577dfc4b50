using System.Text.Json;
using System.Text.Unicode;

namespace Sidecars.Authentication;

/// <summary>
/// The JSON of a token's header and payload, read strictly: a JSON object that is I-JSON (RFC 7493), with no
/// duplicate top-level member. Anything else is a typed failure, never an exception (issue 7, finding 1).
/// </summary>
internal static class JwtJson
{
    /// <summary>
    /// Parses a JSON object that is I-JSON (RFC 7493 §2): every string and member name valid Unicode (no
    /// invalid UTF-8, no lone surrogate escape) and every number a finite IEEE double, so that no later
    /// <c>GetString</c>/<c>GetDouble</c> on the token can throw. Duplicate members at its top level are refused
    /// (RFC 7515 §5.2 allows refusing them, RFC 8725 advises it). Nesting is bounded at 32.
    /// </summary>
    public static bool TryParseObject(byte[] json, string what, out JsonDocument? document, out JwtFailure failure)
    {
        document = null;
        try
        {
            var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = 32 });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                failure = JwtFailure.Invalid($"token {what} is not a JSON object");
                return false;
            }

            var names = new HashSet<string>(StringComparer.Ordinal);
            while (reader.Read())
            {
                switch (reader.TokenType)
                {
                    case JsonTokenType.PropertyName or JsonTokenType.String:
                        if (!TryGetValidString(ref reader, out var text))
                        {
                            failure = JwtFailure.Invalid($"token {what} is not I-JSON (RFC 7493): invalid Unicode in a string");
                            return false;
                        }

                        if (reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1 && !names.Add(text!))
                        {
                            failure = JwtFailure.Invalid($"token {what} has a duplicate member '{JwtValidator.Printable(text!)}'");
                            return false;
                        }

                        break;
                    case JsonTokenType.Number:
                        if (!reader.TryGetDouble(out var number) || !double.IsFinite(number))
                        {
                            failure = JwtFailure.Invalid($"token {what} is not I-JSON (RFC 7493): a number is out of range");
                            return false;
                        }

                        break;
                }
            }

            document = JsonDocument.Parse(json, new JsonDocumentOptions { MaxDepth = 32 });
            failure = default;
            return true;
        }
        catch (JsonException)
        {
            failure = JwtFailure.Invalid($"token {what} is not valid JSON");
            return false;
        }
        catch (InvalidOperationException)
        {
            failure = JwtFailure.Invalid($"token {what} is not valid JSON");
            return false;
        }
    }

    /// <summary>
    /// The string at the reader, if it is valid Unicode. Only top-level member names are materialised; other
    /// unescaped strings are checked in place (no allocation). An escaped string is unescaped, which throws
    /// on a lone surrogate escape, and checked again as UTF-16.
    /// </summary>
    private static bool TryGetValidString(ref Utf8JsonReader reader, out string? text)
    {
        text = null;
        var needed = reader.TokenType == JsonTokenType.PropertyName && reader.CurrentDepth == 1;
        if (!reader.ValueIsEscaped)
        {
            if (!Utf8.IsValid(reader.ValueSpan))
            {
                return false;
            }

            text = needed ? reader.GetString() : null;
            return true;
        }

        try
        {
            text = reader.GetString();
        }
        catch (InvalidOperationException)
        {
            return false;
        }

        return text is not null && !HasLoneSurrogate(text);
    }

    /// <summary>Whether <paramref name="text"/> holds a surrogate that is not half of a pair.</summary>
    public static bool HasLoneSurrogate(ReadOnlySpan<char> text)
    {
        for (var i = 0; i < text.Length; i++)
        {
            if (char.IsHighSurrogate(text[i]) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(text[i]))
            {
                return true;
            }
        }

        return false;
    }
}
