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

    public string? SourceAddress => request.Attributes.Source?.Address?.SocketAddress?.Address is { Length: > 0 } address ? address : null;

    public string? Principal => request.Attributes.Source?.Principal is { Length: > 0 } principal ? principal : null;

    public string? ContextExtension(string key) => request.Attributes.ContextExtensions.TryGetValue(key, out var value) ? value : null;
}
