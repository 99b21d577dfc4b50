using System.Buffers.Binary;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using Grpc.Core;

namespace Sidecars.Tests.Infrastructure;

/// <summary>What the server answered to a hand-built gRPC request.</summary>
internal sealed record RawGrpcAnswer(StatusCode Status, string? Message, byte[]? Payload, HttpStatusCode HttpStatus)
{
    public override string ToString() => $"{Status} '{Message}' (HTTP {(int)HttpStatus}, {(Payload is null ? "no" : Payload.Length + " bytes of")} payload)";
}

/// <summary>
/// A gRPC client that sends exactly the bytes it is given over HTTP/2 cleartext (prior knowledge), so tests can
/// send what a real client library never would: invalid UTF-8 in strings, protobuf that does not parse, bad
/// length prefixes, a compressed flag with garbage.
/// </summary>
internal sealed class RawGrpc : IDisposable
{
    public const string CheckPath = "/envoy.service.auth.v3.Authorization/Check";
    public const string ShouldRateLimitPath = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

    private readonly HttpClient _client;

    public RawGrpc(SidecarServer server)
    {
        var handler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true };
        Uri address;
        if (server.GrpcAddress.StartsWith("unix:", StringComparison.Ordinal))
        {
            var path = server.GrpcAddress["unix:".Length..];
            handler.ConnectCallback = async (_, ct) =>
            {
                var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
                await socket.ConnectAsync(new UnixDomainSocketEndPoint(path), ct);
                return new NetworkStream(socket, ownsSocket: true);
            };
            address = new Uri("http://localhost");
        }
        else
        {
            address = new Uri("http://" + server.GrpcAddress);
        }

        _client = new HttpClient(handler)
        {
            BaseAddress = address,
            DefaultRequestVersion = HttpVersion.Version20,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
            Timeout = TimeSpan.FromSeconds(20),
        };
    }

    /// <summary>A gRPC length-prefixed message: the compressed flag, the big-endian length, the bytes.</summary>
    public static byte[] Frame(ReadOnlySpan<byte> message, byte compressedFlag = 0)
    {
        var frame = new byte[5 + message.Length];
        frame[0] = compressedFlag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)message.Length);
        message.CopyTo(frame.AsSpan(5));
        return frame;
    }

    /// <summary>Sends <paramref name="body"/> as the whole request body (already framed).</summary>
    public Task<RawGrpcAnswer> SendAsync(string path, byte[] body, string? encoding = null) => SendAsync(path, new ByteArrayContent(body), encoding);

    /// <summary>
    /// Sends <paramref name="body"/> in two DATA frames: the first <paramref name="splitAt"/> bytes, flushed, then
    /// the rest, so the server may read a message header that has not all arrived yet.
    /// </summary>
    public Task<RawGrpcAnswer> SendSplitAsync(string path, byte[] body, int splitAt) => SendAsync(path, new SplitContent(body, splitAt), encoding: null);

    private async Task<RawGrpcAnswer> SendAsync(string path, HttpContent content, string? encoding)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, path)
        {
            Content = content,
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/grpc");
        request.Headers.TryAddWithoutValidation("te", "trailers");
        if (encoding is not null)
        {
            request.Headers.TryAddWithoutValidation("grpc-encoding", encoding);
        }

        using var response = await _client.SendAsync(request, HttpCompletionOption.ResponseContentRead);
        var bytes = await response.Content.ReadAsByteArrayAsync();
        var status = Header(response.Headers, "grpc-status") ?? Header(response.TrailingHeaders, "grpc-status");
        var message = Header(response.Headers, "grpc-message") ?? Header(response.TrailingHeaders, "grpc-message");
        byte[]? payload = null;
        if (bytes.Length >= 5)
        {
            var length = (int)BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(1));
            payload = bytes.AsSpan(5, Math.Min(length, bytes.Length - 5)).ToArray();
        }

        // No grpc-status at all is not a gRPC answer: report it as an impossible status so assertions fail.
        var code = status is null ? (StatusCode)(-1) : (StatusCode)int.Parse(status, System.Globalization.CultureInfo.InvariantCulture);
        return new RawGrpcAnswer(code, message is null ? (status is null ? System.Text.Encoding.UTF8.GetString(bytes) : null) : Uri.UnescapeDataString(message), payload, response.StatusCode);
    }

    /// <summary>Sends one uncompressed message.</summary>
    public Task<RawGrpcAnswer> CallAsync(string path, ReadOnlySpan<byte> message) => SendAsync(path, Frame(message));

    private static string? Header(HttpHeaders headers, string name) =>
        headers.TryGetValues(name, out var values) ? values.FirstOrDefault() : null;

    public void Dispose() => _client.Dispose();

    private sealed class SplitContent(byte[] body, int splitAt) : HttpContent
    {
        protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context)
        {
            // Two DATA frames; whether the server reads them apart is up to the network (GrpcFrameGuardTests
            // covers the split deterministically), so nothing here waits.
            await stream.WriteAsync(body.AsMemory(0, splitAt));
            await stream.FlushAsync();
            await stream.WriteAsync(body.AsMemory(splitAt));
        }

        protected override bool TryComputeLength(out long length)
        {
            length = body.Length;
            return true;
        }
    }
}
