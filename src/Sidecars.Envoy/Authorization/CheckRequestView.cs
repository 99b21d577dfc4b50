using Envoy.Service.Auth.V3;
using Sidecars.Authorization;

namespace Sidecars.Envoy.Authorization;

/// <summary>The core's view of an ext_authz request: Envoy's lower-cased headers (the map, or header_map when Envoy sends raw headers).</summary>
internal sealed class CheckRequestView(AttributeContext.Types.HttpRequest http) : IRequestView
{
    public string Method => http.Method;

    public string Host => http.Host;

    public string Path => http.Path;

    public string? Header(string name)
    {
        if (http.Headers.TryGetValue(name, out var value))
        {
            return value;
        }

        if (http.HeaderMap is { } map)
        {
            foreach (var header in map.Headers)
            {
                if (header.Key == name)
                {
                    return header.Value.Length > 0 ? header.Value : header.RawValue.ToStringUtf8();
                }
            }
        }

        return null;
    }
}
