using Envoy.Service.Auth.V3;
using Sidecars.Authorization;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// The core's view of an ext_authz request: Envoy's lower-cased headers (the map, or header_map when Envoy sends
/// raw headers). One instance per thread is reused, as <see cref="RequestTokens"/> are: a decision is synchronous
/// and nothing keeps the view past it.
/// </summary>
internal sealed class CheckRequestView : IRequestView
{
    [ThreadStatic]
    private static CheckRequestView? t_cached;

    private AttributeContext.Types.HttpRequest _http = null!;
    private CheckHeaders? _headers;
    private CheckCall? _call;
    private AttributeContext? _attributes;

    // The header values read so far in this call, by entry: a decision asks for the token header more than once.
    private string?[] _values = new string?[16];

    // Header values read as characters (TryHeader), decoded into one reused buffer: the token header is read this
    // way on every call, and a string of a 620-character JWT is 1.26 KB. By entry: where its characters start + 1
    // (0: not decoded yet) and how many there are.
    private char[] _text = new char[2048];
    private int _textUsed;
    private int[] _spans = new int[32];

    /// <summary>The view of <paramref name="http"/>; its headers are <paramref name="headers"/> when the wire reader kept them as bytes.</summary>
    public static CheckRequestView Rent(AttributeContext.Types.HttpRequest http, CheckHeaders? headers = null)
    {
        var view = t_cached ?? new CheckRequestView();
        t_cached = null;
        view._http = http;
        view._headers = headers;
        view._call = null;
        view._attributes = null;
        if (headers is not null && headers.Count > view._values.Length)
        {
            view._values = new string?[headers.Count];
            view._spans = new int[headers.Count * 2];
        }

        return view;
    }

    /// <summary>The view of a call as the server read it; its source and context extensions are read from the call if asked for.</summary>
    public static CheckRequestView Rent(CheckCall call)
    {
        var view = Rent(call.Http!, call.Headers);
        view._call = call;
        view._attributes = call.Request?.Attributes;
        return view;
    }

    /// <summary>The view of a whole request, its other attributes included.</summary>
    public static CheckRequestView Rent(CheckRequest request)
    {
        var view = Rent(request.Attributes.Request.Http);
        view._attributes = request.Attributes;
        return view;
    }

    public bool TrySourceAddress(out ReadOnlySpan<char> address)
    {
        if (_attributes is { } attributes)
        {
            return Some(attributes.Source?.Address?.SocketAddress?.Address, out address);
        }

        address = default;
        return _call is { } call && Wire.PeerAttributes.TrySourceAddress(call.PeerAndContext, out var bytes) && Decode(bytes, out address);
    }

    public bool TryPrincipal(out ReadOnlySpan<char> principal)
    {
        if (_attributes is { } attributes)
        {
            return Some(attributes.Source?.Principal, out principal);
        }

        principal = default;
        return _call is { } call && Wire.PeerAttributes.TryPrincipal(call.PeerAndContext, out var bytes) && Decode(bytes, out principal);
    }

    public bool TryContextExtension(string key, out ReadOnlySpan<char> value)
    {
        if (_attributes is { } attributes)
        {
            value = attributes.ContextExtensions.TryGetValue(key, out var text) ? text : default;
            return text is not null;
        }

        value = default;
        return _call is { } call && Wire.PeerAttributes.TryContextExtension(call.PeerAndContext, key, out var bytes) && Decode(bytes, out value);
    }

    private static bool Some(string? text, out ReadOnlySpan<char> value)
    {
        value = text;
        return text is { Length: > 0 };
    }

    /// <summary>UTF-8 from the request into this call's character buffer (valid UTF-8: the reader checked it), as header values are.</summary>
    private bool Decode(ReadOnlySpan<byte> bytes, out ReadOnlySpan<char> chars)
    {
        var most = System.Text.Encoding.UTF8.GetMaxCharCount(bytes.Length);
        if (_textUsed + most > _text.Length)
        {
            // Rare (a long principal): a string of its own, leaving the header spans of this call as they are.
            chars = System.Text.Encoding.UTF8.GetString(bytes);
            return true;
        }

        var written = System.Text.Encoding.UTF8.GetChars(bytes, _text.AsSpan(_textUsed));
        chars = _text.AsSpan(_textUsed, written);
        _textUsed += written;
        return true;
    }

    public static void Return(CheckRequestView view)
    {
        if (view._headers is { } headers)
        {
            Array.Clear(view._values, 0, headers.Count);
            Array.Clear(view._spans, 0, headers.Count * 2);
        }

        view._textUsed = 0;

        view._http = null!;
        view._headers = null;
        view._call = null;
        view._attributes = null;
        t_cached = view;
    }

    public string Method => _http.Method;

    public string Host => _http.Host;

    public string Path => _http.Path;

    public string? Header(string name)
    {
        if (_headers is { } kept)
        {
            var entry = kept.Find(name);
            if (entry >= 0)
            {
                return _values[entry] ??= kept.Value(entry);
            }
        }
        else if (_http.Headers.TryGetValue(name, out var value))
        {
            return value;
        }

        return FromHeaderMap(name);
    }

    public bool HasHeader(string name) =>
        _headers is { } kept ? kept.Find(name) >= 0 || FromHeaderMap(name) is not null : Header(name) is not null;

    public bool TryHeader(string name, out ReadOnlySpan<char> value)
    {
        if (_headers is not { } kept)
        {
            var text = Header(name);
            value = text;
            return text is not null;
        }

        var entry = kept.Find(name);
        if (entry < 0)
        {
            var text = FromHeaderMap(name);
            value = text;
            return text is not null;
        }

        if (_values[entry] is { } made)
        {
            value = made;
            return true;
        }

        if (_spans[entry * 2] == 0)
        {
            var bytes = kept.ValueBytes(entry);
            var most = System.Text.Encoding.UTF8.GetMaxCharCount(bytes.Length);
            if (_textUsed + most > _text.Length)
            {
                // A new buffer, not a resized one: spans handed out earlier in this call keep the old one alive.
                // What was decoded into the old one is forgotten, and decoded again into this one if asked for.
                _text = new char[Math.Max(_text.Length * 2, most)];
                _textUsed = 0;
                Array.Clear(_spans, 0, kept.Count * 2);
            }

            var written = System.Text.Encoding.UTF8.GetChars(bytes, _text.AsSpan(_textUsed));
            _spans[entry * 2] = _textUsed + 1;
            _spans[(entry * 2) + 1] = written;
            _textUsed += written;
        }

        value = _text.AsSpan(_spans[entry * 2] - 1, _spans[(entry * 2) + 1]);
        return true;
    }

    private string? FromHeaderMap(string name)
    {
        if (_http.HeaderMap is { } map)
        {
            var headers = map.Headers;
            for (var i = 0; i < headers.Count; i++)
            {
                var header = headers[i];
                if (header.Key == name)
                {
                    return header.Value.Length > 0 ? header.Value : header.RawValue.ToStringUtf8();
                }
            }
        }

        return null;
    }
}
