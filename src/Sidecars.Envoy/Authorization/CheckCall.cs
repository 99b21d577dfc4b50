using Envoy.Service.Auth.V3;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// A Check as the server reads it off the wire: its HTTP attributes, whose headers map is kept as bytes
/// (<see cref="CheckHeaders"/>) when <see cref="Wire.CheckRequestReader"/> could read it so. The fast reading reads
/// nothing but the HTTP attributes (the rest of the request is checked well-formed, not parsed), so
/// <see cref="Request"/> is null there; in-process callers, and every message the fast reading leaves alone, carry
/// the whole request.
/// </summary>
public sealed class CheckCall
{
    /// <summary>Stands for a CheckRequest that is not a protobuf message; compared by reference.</summary>
    public static readonly CheckCall Unreadable = new(Wire.EnvoyWire.UnreadableCheckRequest, headers: null);

    /// <summary>A call of a whole request; with <paramref name="headers"/> set its <c>http.headers</c> map is empty.</summary>
    public CheckCall(CheckRequest request, CheckHeaders? headers)
    {
        Request = request;
        Http = request.Attributes?.Request?.Http;
        Headers = headers;
    }

    /// <summary>A call read for its HTTP attributes, plus the bytes of <c>attributes.source</c> and <c>attributes.context_extensions</c> (null when it has neither).</summary>
    internal CheckCall(AttributeContext.Types.HttpRequest http, CheckHeaders? headers, byte[]? peerAndContext = null)
    {
        Http = http;
        Headers = headers;
        _peerAndContext = peerAndContext;
    }

    private readonly byte[]? _peerAndContext;

    /// <summary>
    /// For a call read fast, the bytes of <c>attributes.source</c> and <c>attributes.context_extensions</c> as they
    /// came (together an AttributeContext holding only them), read in place by <see cref="Wire.PeerAttributes"/> when
    /// a rule or a limit asks; empty when the request had neither, or was parsed whole (see <see cref="Request"/>).
    /// </summary>
    internal ReadOnlySpan<byte> PeerAndContext => _peerAndContext;

    /// <summary>The whole request, or null when only <see cref="Http"/> was read.</summary>
    public CheckRequest? Request { get; }

    /// <summary><c>attributes.request.http</c>, or null when the request has none; its <c>headers</c> map is empty when <see cref="Headers"/> is set.</summary>
    public AttributeContext.Types.HttpRequest? Http { get; }

    public CheckHeaders? Headers { get; }

    /// <summary>
    /// Gives the pooled header bytes back (see <see cref="CheckHeaders"/>): the server calls it once this call's
    /// answer is complete, never before; a call read again after it has no headers.
    /// </summary>
    public void Release() => Headers?.Release();
}
