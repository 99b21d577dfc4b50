using Envoy.Service.Auth.V3;
using Sidecars.Authorization;

namespace Sidecars.Server.Tools;

/// <summary>A CheckRequest message as the core reads a request, for the offline tools (the server uses the wire view).</summary>
internal sealed class MessageRequestView(CheckRequest request) : IRequestView
{
    private readonly AttributeContext.Types.HttpRequest _http = request.Attributes.Request.Http;

    public string Method => _http.Method;

    public string Host => _http.Host;

    public string Path => _http.Path;

    public string? Header(string name) => _http.Headers.TryGetValue(name, out var value) ? value : null;

    public bool TrySourceAddress(out ReadOnlySpan<char> address) => Some(request.Attributes.Source?.Address?.SocketAddress?.Address, out address);

    public bool TryPrincipal(out ReadOnlySpan<char> principal) => Some(request.Attributes.Source?.Principal, out principal);

    public bool TryContextExtension(string key, out ReadOnlySpan<char> value) =>
        Some(request.Attributes.ContextExtensions.TryGetValue(key, out var text) ? text : null, out value);

    private static bool Some(string? text, out ReadOnlySpan<char> value)
    {
        value = text;
        return text is { Length: > 0 };
    }
}
