using System.Text;
using System.Text.Json;

namespace Sidecars.Authentication;

/// <summary>
/// Reads a JSON Web Key Set (RFC 7517): RSA and EC public keys for signatures, and HMAC secrets from local
/// config only. Never throws, whatever the input (issue 7, findings 9b and 15): it returns the usable keys and,
/// for the document and for each key it leaves out, one precise reason ("key 2 (kid 'k2'): RSA modulus is
/// 1024 bits, at least 2048 required"). Bounded: document size, nesting depth, entries read, usable keys kept
/// and reasons listed. The checks of one key are in <see cref="JwkReader"/>.
/// </summary>
public static class JwksParser
{
    /// <summary>Usable keys kept; a validator may try every key of a set, so the set stays small.</summary>
    public const int MaxKeys = 100;

    /// <summary>Array entries read at all: a document of a million <c>1</c>s costs no more than this.</summary>
    public const int MaxEntries = 1000;

    /// <summary>Nesting allowed: a JWKS is an object, an array, key objects and their <c>key_ops</c>/<c>x5c</c> arrays.</summary>
    public const int MaxDepth = 16;

    /// <summary>Reasons listed; the rest are counted in one last line.</summary>
    public const int MaxErrors = 20;

    /// <summary>Largest document read when the caller does not bound it tighter.</summary>
    public const int DefaultMaxBytes = 1024 * 1024;

    /// <param name="json">The JWKS document, UTF-8.</param>
    /// <param name="errors">Why the document or each unusable key was left out; empty when every key was taken.</param>
    /// <param name="allowSymmetric">True only for keys from local config, where an HMAC secret may live.</param>
    /// <param name="maxBytes">Larger documents are refused unread.</param>
    public static IReadOnlyList<SigningKey> Parse(ReadOnlySpan<byte> json, out IReadOnlyList<string> errors, bool allowSymmetric = false, int maxBytes = DefaultMaxBytes)
    {
        var notes = new ErrorList();
        errors = notes.Items;
        var result = new List<SigningKey>();
        try
        {
            ParseDocument(json, notes, allowSymmetric, maxBytes, result);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // The last line of defence: a document we failed to foresee is refused, never thrown into a reload or a fetch.
            notes.Add($"the JWKS could not be read ({e.GetType().Name})");
            foreach (var key in result)
            {
                key.Dispose();
            }

            result.Clear();
        }

        notes.Close();
        return result;
    }

    private static void ParseDocument(ReadOnlySpan<byte> json, ErrorList notes, bool allowSymmetric, int maxBytes, List<SigningKey> result)
    {
        if (json.IsEmpty)
        {
            notes.Add("the JWKS is empty");
            return;
        }

        if (json.Length > maxBytes)
        {
            notes.Add($"the JWKS is {json.Length} bytes, over the limit of {maxBytes}");
            return;
        }

        if (!CheckSyntax(json, notes))
        {
            return;
        }

        using var document = JsonDocument.Parse(json.ToArray(), new JsonDocumentOptions { MaxDepth = MaxDepth + 1 });
        var root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("keys", out var keys) || keys.ValueKind != JsonValueKind.Array)
        {
            notes.Add("a JWKS is a JSON object with a 'keys' array");
            return;
        }

        if (JwkReader.DuplicateMember(root) is { } duplicate)
        {
            notes.Add($"the JWKS has member '{duplicate}' twice");
            return;
        }

        var entries = keys.GetArrayLength();
        if (entries > MaxEntries)
        {
            notes.Add($"the JWKS has {entries} entries: only the first {MaxEntries} are read");
        }

        var seen = new Dictionary<(string Kid, string Kty), int>();
        var index = 0;
        foreach (var entry in keys.EnumerateArray())
        {
            if (++index > MaxEntries)
            {
                break;
            }

            if (result.Count == MaxKeys)
            {
                notes.Add($"more than {MaxKeys} usable keys: key {index} and later are ignored");
                break;
            }

            var key = JwkReader.Read(entry, index, allowSymmetric, out var error);
            if (key is null)
            {
                notes.Add(error!);
                continue;
            }

            if (key.KeyId is { } kid && !seen.TryAdd((kid, key.KeyType), index))
            {
                // RFC 7517 §4.5: kids within a set should differ; the same kid is only meaningful across key types.
                notes.Add($"{JwkReader.Label(index, kid)}: repeats the kid of key {seen[(kid, key.KeyType)]} (kty {key.KeyType}): ignored");
                key.Dispose();
                continue;
            }

            result.Add(key);
        }
    }

    /// <summary>Text from a key set or discovery document in a reason: at most 64 printable ASCII characters, else "(unprintable)".</summary>
    public static string Printable(string text) => JwkReader.Printable(text);

    /// <summary>UTF-8 (RFC 8259 §8.1), well-formed, and not nested deeper than <see cref="MaxDepth"/>, each refused with where.</summary>
    private static bool CheckSyntax(ReadOnlySpan<byte> json, ErrorList notes)
    {
        if (FirstInvalidUtf8(json) is { } at)
        {
            notes.Add($"the JWKS is not valid UTF-8 (byte {at + 1})");
            return false;
        }

        var reader = new Utf8JsonReader(json, new JsonReaderOptions { MaxDepth = MaxDepth * 4 });
        try
        {
            while (reader.Read())
            {
                if (reader.TokenType is JsonTokenType.StartObject or JsonTokenType.StartArray && reader.CurrentDepth >= MaxDepth)
                {
                    notes.Add($"the JWKS is nested deeper than {MaxDepth} levels (byte {reader.TokenStartIndex + 1})");
                    return false;
                }
            }

            return true;
        }
        catch (JsonException e)
        {
            // Our own words: the framework's message may be a bare resource key in the trimmed binary.
            notes.Add($"the JWKS is not valid JSON (line {(e.LineNumber ?? 0) + 1}, byte {(e.BytePositionInLine ?? 0) + 1})");
            return false;
        }
    }

    private static int? FirstInvalidUtf8(ReadOnlySpan<byte> json)
    {
        var offset = 0;
        while (offset < json.Length)
        {
            if (Rune.DecodeFromUtf8(json[offset..], out _, out var consumed) != System.Buffers.OperationStatus.Done)
            {
                return offset;
            }

            offset += consumed;
        }

        return null;
    }

    /// <summary>Reasons up to <see cref="MaxErrors"/>, then a count of the rest.</summary>
    private sealed class ErrorList
    {
        private int _more;

        public List<string> Items { get; } = [];

        public void Add(string error)
        {
            if (Items.Count < MaxErrors)
            {
                Items.Add(error);
            }
            else
            {
                _more++;
            }
        }

        public void Close()
        {
            if (_more > 0)
            {
                Items.Add($"and {_more} more errors");
                _more = 0;
            }
        }
    }
}
