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

    // The header values read so far in this call, by entry: a decision asks for the token header more than once.
    private string?[] _values = new string?[16];

    /// <summary>The view of <paramref name="http"/>; its headers are <paramref name="headers"/> when the wire reader kept them as bytes.</summary>
    public static CheckRequestView Rent(AttributeContext.Types.HttpRequest http, CheckHeaders? headers = null)
    {
        var view = t_cached ?? new CheckRequestView();
        t_cached = null;
        view._http = http;
        view._headers = headers;
        if (headers is not null && headers.Count > view._values.Length)
        {
            view._values = new string?[headers.Count];
        }

        return view;
    }

    public static void Return(CheckRequestView view)
    {
        if (view._headers is { } headers)
        {
            Array.Clear(view._values, 0, headers.Count);
        }

        view._http = null!;
        view._headers = null;
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
