using Grpc.Core;

namespace Sidecars.Load.Generator.Http2;

/// <summary>
/// One unary call on an <see cref="H2Connection"/>: what is left to send, its send window, and the response as it
/// arrives. It is its own TaskCompletionSource (one object less per call); continuations run inline on the reader
/// thread, which is fine because the generator's work after a call is a few interlocked adds.
/// </summary>
internal sealed class H2Call(byte[] headerBlock, byte[] message) : TaskCompletionSource<byte[]>
{
    /// <summary>gRPC's length-prefixed message: 1 byte compressed flag + 4 bytes big-endian length (gRPC over HTTP/2).</summary>
    public const int PrefixLength = 5;

    /// <summary>As Grpc.Net.Client was configured: a larger response fails the call instead of growing a buffer.</summary>
    public const int MaxResponseBytes = 4 * 1024 * 1024;

    private uint _prefix;
    private int _prefixRead;
    private byte[]? _response;
    private int _responseRead;

    public byte[] HeaderBlock { get; } = headerBlock;

    public int StreamId { get; set; }

    /// <summary>Bytes of the DATA payload (prefix + message) already written.</summary>
    public int Sent { get; set; }

    public int BodyLength => PrefixLength + message.Length;

    /// <summary>Our stream's send window: the server's SETTINGS_INITIAL_WINDOW_SIZE plus its WINDOW_UPDATEs (may go negative).</summary>
    public long SendWindow { get; set; }

    public bool HeadersReceived { get; set; }

    /// <summary>Answered or failed: no longer in the connection's stream table.</summary>
    public bool Done { get; set; }

    /// <summary>Copies DATA payload bytes <paramref name="from"/>.. of the prefixed message into <paramref name="to"/>.</summary>
    public void CopyBody(int from, Span<byte> to)
    {
        for (var i = 0; i < to.Length && from + i < PrefixLength; i++)
        {
            // Uncompressed flag 0, then the length big-endian.
            to[i] = (from + i) == 0 ? (byte)0 : (byte)(message.Length >> (8 * (PrefixLength - 1 - (from + i))));
        }

        var start = Math.Max(from, PrefixLength);
        var skip = start - from;
        if (skip < to.Length)
        {
            message.AsSpan(start - PrefixLength, to.Length - skip).CopyTo(to[skip..]);
        }
    }

    /// <summary>Adds DATA bytes to the response; returns why they are not a valid unary response, or null.</summary>
    public string? Receive(ReadOnlySpan<byte> data)
    {
        while (_prefixRead < PrefixLength && data.Length > 0)
        {
            if (_prefixRead == 0 && data[0] != 0)
            {
                return "the server sent a compressed message, which this client never asked for";
            }

            if (_prefixRead > 0)
            {
                _prefix = (_prefix << 8) | data[0];
            }

            _prefixRead++;
            data = data[1..];
            if (_prefixRead == PrefixLength)
            {
                if (_prefix > MaxResponseBytes)
                {
                    return $"a {_prefix}-byte response, above {MaxResponseBytes}";
                }

                _response = _prefix == 0 ? [] : new byte[_prefix];
            }
        }

        if (data.Length == 0)
        {
            return null;
        }

        if (_response is null || data.Length > _response.Length - _responseRead)
        {
            return "more than one response message on a unary call";
        }

        data.CopyTo(_response.AsSpan(_responseRead));
        _responseRead += data.Length;
        return null;
    }

    /// <summary>The status and trailers said OK: the message, or why there is none.</summary>
    public void Succeed()
    {
        if (_response is null || _responseRead != _response.Length)
        {
            Fail(StatusCode.Internal, _response is null ? "status OK but no response message" : "the response message was cut short");
            return;
        }

        TrySetResult(_response);
    }

    public void Fail(StatusCode code, string detail) => TrySetException(new RpcException(new Status(code, detail)));
}
