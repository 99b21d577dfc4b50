using Envoy.Service.Auth.V3;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// A Check as the server reads it off the wire: the request, and its HTTP headers map kept as bytes
/// (<see cref="CheckHeaders"/>) when <see cref="Wire.CheckRequestReader"/> could read it so. Without them the
/// headers are the request's own map (in-process callers, and every message the fast reading leaves alone).
/// </summary>
public sealed class CheckCall(CheckRequest request, CheckHeaders? headers)
{
    /// <summary>Stands for a CheckRequest that is not a protobuf message; compared by reference.</summary>
    public static readonly CheckCall Unreadable = new(Wire.EnvoyWire.UnreadableCheckRequest, headers: null);

    /// <summary>The request; with <see cref="Headers"/> set its <c>http.headers</c> map is empty.</summary>
    public CheckRequest Request { get; } = request;

    public CheckHeaders? Headers { get; } = headers;
}
