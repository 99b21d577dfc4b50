using System.Buffers;
using System.Text;
using System.Text.Unicode;
using Sidecars.Envoy.Wire;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// The entries of an ext_authz request's <c>headers</c> map as UTF-8 bytes, read with the map's own rules: a later
/// entry with the same key wins, a missing key or value is empty. One array of every key and value, one of offsets;
/// a value becomes a string only when asked for (<see cref="CheckRequestView"/> keeps it for the rest of the call).
/// </summary>
/// <remarks>
/// Both arrays are rented from the shared pool and given back by <see cref="Release"/>, which the server calls once
/// the call's answer is built: they were a kilobyte of every Check's garbage (the token is most of it), a third of
/// what a cached allow allocated on the wire. After that the headers are empty, so a late reader finds no token
/// and is denied; nothing of them may be kept past the answer (strings made from them are copies).
/// </remarks>
public sealed class CheckHeaders
{
    private const uint KeyTag = (1 << 3) | 2;
    private const uint ValueTag = (2 << 3) | 2;

    private byte[] _bytes;

    // Per entry: key start, key length, value start, value length (in _bytes).
    private int[] _offsets;

    private int _count;

    private CheckHeaders(byte[] bytes, int[] offsets, int count)
    {
        _bytes = bytes;
        _offsets = offsets;
        _count = count;
    }

    public int Count => _count;

    /// <summary>Gives the arrays back to the pool; the headers are empty afterwards. Once, when the call is answered.</summary>
    internal void Release()
    {
        var (bytes, offsets) = (_bytes, _offsets);
        (_bytes, _offsets, _count) = ([], [], 0);
        if (offsets.Length > 0)
        {
            ArrayPool<int>.Shared.Return(offsets);
        }

        if (bytes.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(bytes);
        }
    }

    /// <summary>
    /// The entries at <paramref name="bounds"/> ([start, end) pairs in <paramref name="http"/>, each a whole field 3);
    /// null when one holds anything but its key and value, or invalid UTF-8: the generated parser then reads it.
    /// </summary>
    internal static CheckHeaders? From(ReadOnlySpan<byte> http, ReadOnlySpan<int> bounds)
    {
        var entries = bounds.Length / 2;
        var offsets = ArrayPool<int>.Shared.Rent(entries * 4);
        var size = 0;
        for (var i = 0; i < entries; i++)
        {
            var entry = http[bounds[i * 2]..bounds[(i * 2) + 1]];
            var at = 0;

            // The field's own tag and length, already checked by the reader.
            ProtoWire.TryReadTag(entry, ref at, out _);
            ProtoWire.TryReadLength(entry, ref at, out _);
            var content = entry[at..];
            int keyStart = 0, keyLength = 0, valueStart = 0, valueLength = 0;
            at = 0;
            while (at < content.Length)
            {
                if (!ProtoWire.TryReadTag(content, ref at, out var tag) || tag is not (KeyTag or ValueTag)
                    || !ProtoWire.TryReadLength(content, ref at, out var length))
                {
                    ArrayPool<int>.Shared.Return(offsets);
                    return null;
                }

                // A repeated key or value within one entry: the last one is read, as the generated parser does.
                if (tag == KeyTag)
                {
                    (keyStart, keyLength) = (bounds[i * 2] + (entry.Length - content.Length) + at, length);
                }
                else
                {
                    (valueStart, valueLength) = (bounds[i * 2] + (entry.Length - content.Length) + at, length);
                }

                at += length;
            }

            if (!Utf8.IsValid(http.Slice(keyStart, keyLength)) || !Utf8.IsValid(http.Slice(valueStart, valueLength)))
            {
                ArrayPool<int>.Shared.Return(offsets);
                return null;
            }

            offsets[i * 4] = keyStart;
            offsets[(i * 4) + 1] = keyLength;
            offsets[(i * 4) + 2] = valueStart;
            offsets[(i * 4) + 3] = valueLength;
            size += keyLength + valueLength;
        }

        // Only the keys and values are kept, packed, and the offsets moved to point into them.
        var bytes = size == 0 ? [] : ArrayPool<byte>.Shared.Rent(size);
        var written = 0;
        for (var i = 0; i < entries; i++)
        {
            for (var part = 0; part < 4; part += 2)
            {
                var start = offsets[(i * 4) + part];
                var length = offsets[(i * 4) + part + 1];
                http.Slice(start, length).CopyTo(bytes.AsSpan(written));
                offsets[(i * 4) + part] = written;
                written += length;
            }
        }

        return new CheckHeaders(bytes, offsets, entries);
    }

    /// <summary>The entry that holds <paramref name="name"/> (the last one, as the map keeps), or -1.</summary>
    public int Find(string name)
    {
        var ascii = Ascii.IsValid(name);
        for (var i = Count - 1; i >= 0; i--)
        {
            var key = _bytes.AsSpan(_offsets[i * 4], _offsets[(i * 4) + 1]);
            if (ascii ? AsciiEquals(key, name) : Encoding.UTF8.GetString(key) == name)
            {
                return i;
            }
        }

        return -1;
    }

    public string Key(int entry) => Encoding.UTF8.GetString(_bytes, _offsets[entry * 4], _offsets[(entry * 4) + 1]);

    public string Value(int entry) => Encoding.UTF8.GetString(_bytes, _offsets[(entry * 4) + 2], _offsets[(entry * 4) + 3]);

    public ReadOnlySpan<byte> ValueBytes(int entry) => _bytes.AsSpan(_offsets[(entry * 4) + 2], _offsets[(entry * 4) + 3]);

    /// <summary>Whether the UTF-8 <paramref name="key"/> is the ASCII <paramref name="name"/>, ordinally (a non-ASCII byte never matches).</summary>
    private static bool AsciiEquals(ReadOnlySpan<byte> key, string name)
    {
        if (key.Length != name.Length)
        {
            return false;
        }

        for (var i = 0; i < key.Length; i++)
        {
            if (key[i] != name[i])
            {
                return false;
            }
        }

        return true;
    }
}
