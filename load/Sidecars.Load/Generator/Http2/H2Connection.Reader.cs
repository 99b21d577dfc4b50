using System.Buffers.Binary;
using System.Net.Sockets;
using Grpc.Core;

namespace Sidecars.Load.Generator.Http2;

/// <summary>The reader thread: frames from the server, the HPACK state, and how each frame ends or moves a call.</summary>
internal sealed partial class H2Connection
{
    private readonly HpackDecoder _hpack = new();
    private byte[] _headerBlock = new byte[4096];
    private int _headerBlockLength;
    private int _headerStream; // non-zero: a HEADERS without END_HEADERS is waiting for its CONTINUATIONs
    private bool _headerEndStream;
    private int _unacknowledged; // DATA bytes consumed and not yet given back to the connection window

    private void ReadLoop()
    {
        // Room for one whole frame of the size we allow plus what the last read left over.
        var buffer = new byte[4 * (H2Frame.HeaderLength + H2Frame.DefaultMaxFrameSize)];
        int start = 0, end = 0;
        try
        {
            while (true)
            {
                var read = _socket!.Receive(buffer, end, buffer.Length - end, SocketFlags.None);
                if (read == 0)
                {
                    Fail(Unavailable("the server closed the connection"));
                    return;
                }

                end += read;
                while (end - start >= H2Frame.HeaderLength)
                {
                    var header = buffer.AsSpan(start, H2Frame.HeaderLength);
                    var length = H2Frame.ReadLength(header);
                    if (length > H2Frame.DefaultMaxFrameSize)
                    {
                        throw new H2ProtocolException($"a {length}-byte frame, above our SETTINGS_MAX_FRAME_SIZE");
                    }

                    if (end - start < H2Frame.HeaderLength + length)
                    {
                        break;
                    }

                    OnFrame(header[3], header[4], H2Frame.ReadStreamId(header), buffer.AsSpan(start + H2Frame.HeaderLength, length));
                    start += H2Frame.HeaderLength + length;
                }

                if (start == end)
                {
                    start = end = 0;
                }
                else if (buffer.Length - start < H2Frame.HeaderLength + H2Frame.DefaultMaxFrameSize)
                {
                    buffer.AsSpan(start, end - start).CopyTo(buffer);
                    (start, end) = (0, end - start);
                }

                // One wake-up for whatever this read produced: ACKs, window updates, calls its answers started.
                lock (_gate)
                {
                    WakeWriterLocked();
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Fail(Unavailable($"reading from the server failed: {e.Message}"));
        }
        catch (H2ProtocolException e)
        {
            Fail(new RpcException(new Status(StatusCode.Internal, $"HTTP/2 protocol error from the server: {e.Message}")));
        }
    }

    private void OnFrame(byte type, byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        if (_headerStream != 0 && (type != H2Frame.Continuation || stream != _headerStream))
        {
            throw new H2ProtocolException("a frame between HEADERS and its CONTINUATION");
        }

        switch (type)
        {
            case H2Frame.Data:
                OnData(flags, stream, payload);
                break;
            case H2Frame.Headers:
                OnHeaders(flags, stream, payload);
                break;
            case H2Frame.Continuation:
                if (_headerStream == 0)
                {
                    throw new H2ProtocolException("CONTINUATION without HEADERS");
                }

                AppendHeaderBlock(payload);
                if ((flags & H2Frame.EndHeaders) != 0)
                {
                    EndHeaderBlock();
                }

                break;
            case H2Frame.RstStream when payload.Length == 4:
                var code = BinaryPrimitives.ReadUInt32BigEndian(payload);
                End(stream)?.Fail(code switch { 7 => StatusCode.Unavailable, 8 => StatusCode.Cancelled, _ => StatusCode.Internal }, $"the server reset the stream: RST_STREAM {code} ({H2Frame.ErrorName(code)})");
                break;
            case H2Frame.Settings when (flags & H2Frame.Ack) == 0:
                OnSettings(payload);
                break;
            case H2Frame.Ping when (flags & H2Frame.Ack) == 0 && payload.Length == 8:
                lock (_gate)
                {
                    var ack = Reserve(H2Frame.HeaderLength + 8);
                    H2Frame.WriteHeader(ack, 8, H2Frame.Ping, H2Frame.Ack, 0);
                    payload.CopyTo(ack[H2Frame.HeaderLength..]);
                }

                break;
            case H2Frame.GoAway when payload.Length >= 8:
                OnGoAway(BinaryPrimitives.ReadInt32BigEndian(payload) & int.MaxValue, BinaryPrimitives.ReadUInt32BigEndian(payload[4..]), payload[8..]);
                break;
            case H2Frame.WindowUpdate when payload.Length == 4:
                var increment = BinaryPrimitives.ReadInt32BigEndian(payload) & int.MaxValue;
                lock (_gate)
                {
                    if (stream == 0)
                    {
                        _connectionSendWindow += increment;
                    }
                    else if (_streams.TryGetValue(stream, out var call))
                    {
                        call.SendWindow += increment;
                    }

                    PumpLocked();
                }

                break;
            case H2Frame.PushPromise:
                throw new H2ProtocolException("PUSH_PROMISE, though we sent SETTINGS_ENABLE_PUSH 0");
            case H2Frame.RstStream or H2Frame.Ping or H2Frame.GoAway or H2Frame.WindowUpdate:
                throw new H2ProtocolException($"a frame of type {type} with a {payload.Length}-byte payload");
            default:
                // PRIORITY, SETTINGS ACK and unknown types (RFC 9113 §4.1: ignore them).
                break;
        }
    }

    private void OnData(byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        var body = Unpad(flags, payload, 0);
        H2Call? call;
        lock (_gate)
        {
            // The whole payload counts against the window, padding included (RFC 9113 §6.9.1).
            _unacknowledged += payload.Length;
            if (_unacknowledged >= WindowUpdateChunk)
            {
                WriteWindowUpdateLocked(0, _unacknowledged);
                _unacknowledged = 0;
            }

            _streams.TryGetValue(stream, out call);
        }

        if (call is null)
        {
            return;
        }

        if (call.Receive(body) is { } wrong)
        {
            End(stream)?.Fail(StatusCode.Internal, wrong);
        }
        else if ((flags & H2Frame.EndStream) != 0)
        {
            End(stream)?.Fail(StatusCode.Internal, "the response ended without trailers (no grpc-status)");
        }
    }

    private void OnHeaders(byte flags, int stream, ReadOnlySpan<byte> payload)
    {
        var skip = (flags & H2Frame.PriorityFlag) != 0 ? 5 : 0;
        var fragment = Unpad(flags, payload, skip);
        _headerBlockLength = 0;
        _headerStream = stream;
        _headerEndStream = (flags & H2Frame.EndStream) != 0;
        AppendHeaderBlock(fragment);
        if ((flags & H2Frame.EndHeaders) != 0)
        {
            EndHeaderBlock();
        }
    }

    private void AppendHeaderBlock(ReadOnlySpan<byte> fragment)
    {
        if (_headerBlock.Length - _headerBlockLength < fragment.Length)
        {
            Array.Resize(ref _headerBlock, Math.Max(_headerBlock.Length * 2, _headerBlockLength + fragment.Length));
        }

        fragment.CopyTo(_headerBlock.AsSpan(_headerBlockLength));
        _headerBlockLength += fragment.Length;
    }

    /// <summary>A whole header block: response headers, trailers, or both at once (trailers-only).</summary>
    private void EndHeaderBlock()
    {
        var stream = _headerStream;
        _headerStream = 0;
        var headers = ResponseHeaders.Empty;
        _hpack.Decode(_headerBlock.AsSpan(0, _headerBlockLength), ref headers);

        H2Call? call;
        lock (_gate)
        {
            _streams.TryGetValue(stream, out call);
        }

        if (call is null)
        {
            return;
        }

        if (!call.HeadersReceived)
        {
            call.HeadersReceived = true;
            if (headers.Status != 200)
            {
                End(stream)?.Fail(FromHttpStatus(headers.Status), $"HTTP status {headers.Status}, not a gRPC response");
                return;
            }
        }

        if (!_headerEndStream)
        {
            return;
        }

        var ended = End(stream);
        switch (headers.GrpcStatus)
        {
            case 0:
                ended?.Succeed();
                break;
            case < 0:
                ended?.Fail(StatusCode.Internal, "the response ended without a grpc-status");
                break;
            default:
                ended?.Fail((StatusCode)headers.GrpcStatus, headers.GrpcMessage ?? "");
                break;
        }
    }

    /// <summary>The HTTP-to-gRPC status mapping of gRPC's "HTTP to gRPC Status Code Mapping" document.</summary>
    private static StatusCode FromHttpStatus(int status) => status switch
    {
        400 => StatusCode.Internal,
        401 => StatusCode.Unauthenticated,
        403 => StatusCode.PermissionDenied,
        404 => StatusCode.Unimplemented,
        429 or 502 or 503 or 504 => StatusCode.Unavailable,
        _ => StatusCode.Unknown,
    };

    /// <summary>Takes the stream out of the table (freeing its slot for a waiting call); the caller completes it outside the lock.</summary>
    private H2Call? End(int stream)
    {
        H2Call? call;
        lock (_gate)
        {
            if (!_streams.Remove(stream, out call))
            {
                return null;
            }

            call.Done = true;
            if (call.Sent < call.BodyLength)
            {
                // The server answered before we sent all of the request: close our side too (RFC 9113 §8.1).
                var reset = Reserve(H2Frame.HeaderLength + 4);
                H2Frame.WriteHeader(reset, 4, H2Frame.RstStream, 0, stream);
                BinaryPrimitives.WriteUInt32BigEndian(reset[H2Frame.HeaderLength..], 0);
            }

            PumpLocked();
        }

        return call;
    }

    private static ReadOnlySpan<byte> Unpad(byte flags, ReadOnlySpan<byte> payload, int skip)
    {
        if ((flags & H2Frame.Padded) == 0)
        {
            return payload.Length >= skip ? payload[skip..] : throw new H2ProtocolException("a frame shorter than its priority fields");
        }

        if (payload.Length < 1 + skip || payload[0] > payload.Length - 1 - skip)
        {
            throw new H2ProtocolException("padding longer than the frame");
        }

        return payload[(1 + skip)..(payload.Length - payload[0])];
    }
}
