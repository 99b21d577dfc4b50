using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Grpc.Core;

namespace Sidecars.Load.Generator.Http2;

/// <summary>
/// A raw HTTP/2 client connection for unary gRPC calls (RFC 9113): one socket, a reader thread and a writer thread;
/// callers only encode their frames into the output buffer. Grpc.Net.Client spent ~250 µs of CPU per call on a 2-core VM, so the open loop fell behind its schedule
/// at 1,000–2,000 calls/s while it shared the cores with the server; this spends a small fraction of that.
/// </summary>
/// <remarks>
/// One lock (<c>_gate</c>) guards the stream table, the waiting queue, the flow-control windows and the output
/// buffer; nothing blocks while holding it. Only the writer thread sends, outside the lock, so the reader can always
/// queue a SETTINGS or PING ACK and never waits on a full socket (that could deadlock with a server blocked writing
/// to us), and the open loop's scheduler never spends its time in a send syscall (which showed as its slip). The
/// writer sends whatever piled up while it was busy in one send.
/// </remarks>
internal sealed partial class H2Connection : Connection
{
    /// <summary>The connection receive window we announce and top up: large, so the server never waits on us.</summary>
    private const int ReceiveWindow = H2Frame.MaxWindow;

    /// <summary>Consumed DATA bytes are given back to the connection window in chunks of this size.</summary>
    private const int WindowUpdateChunk = 1 << 20;

    private readonly object _gate = new();
    private readonly Socket? _socket;
    private readonly string _authority;
    private readonly Dictionary<int, H2Call> _streams = [];
    private readonly Queue<H2Call> _waiting = new();
    private readonly Queue<H2Call> _dataBlocked = new();
    private (Method<byte[], byte[]> Method, byte[] Block)[] _headerBlocks = [];
    private Thread? _reader;

    private int _nextStreamId = 1;
    private int _maxConcurrent; // 0 until the server's SETTINGS: calls wait for them in order
    private long _connectionSendWindow = H2Frame.DefaultWindow;
    private int _peerInitialWindow = H2Frame.DefaultWindow;
    private int _peerMaxFrame = H2Frame.DefaultMaxFrameSize;
    private RpcException? _refused; // set: no new stream may start (GOAWAY, socket failure, disposal)
    private bool _closed; // set: the socket is finished, every stream has been failed

    private byte[] _out = new byte[64 * 1024];
    private byte[] _spare = new byte[64 * 1024];
    private int _outLength;
    private bool _writerIdle;
    private Thread? _writer;

    private H2Connection(Socket? socket, string authority, RpcException? failed)
    {
        _socket = socket;
        _authority = authority;
        _refused = failed;
        _closed = failed is not null;
    }

    /// <summary>Connects now; a connection that cannot connect fails every call with Unavailable (as a channel would).</summary>
    public static H2Connection Open(string endpoint)
    {
        EndPoint at;
        string authority;
        if (endpoint.StartsWith("unix:", StringComparison.Ordinal))
        {
            at = new UnixDomainSocketEndPoint(endpoint["unix:".Length..]);
            authority = "localhost";
        }
        else
        {
            var uri = new Uri(endpoint);
            if (uri.Scheme != "http")
            {
                throw new ArgumentException($"endpoint '{endpoint}': the raw HTTP/2 client speaks cleartext (http://HOST:PORT or unix:/path.sock)");
            }

            at = IPAddress.TryParse(uri.Host, out var ip) ? new IPEndPoint(ip, uri.Port) : new DnsEndPoint(uri.Host, uri.Port);
            authority = uri.Authority;
        }

        var socket = at is UnixDomainSocketEndPoint
            ? new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified)
            : new Socket(at.AddressFamily == AddressFamily.Unspecified ? AddressFamily.InterNetworkV6 : at.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (socket.AddressFamily == AddressFamily.InterNetworkV6)
            {
                socket.DualMode = true;
            }

            socket.Connect(at);
            if (socket.ProtocolType == ProtocolType.Tcp)
            {
                // Requests are small and each must leave now; Nagle would hold one back for the previous ACK.
                socket.NoDelay = true;
            }
        }
        catch (SocketException e)
        {
            socket.Dispose();
            return new H2Connection(null, authority, Unavailable($"cannot connect to {endpoint}: {e.Message}"));
        }

        var connection = new H2Connection(socket, authority, null);
        connection.Start();
        return connection;
    }

    /// <summary>Preface, our SETTINGS and the connection window (RFC 9113 §3.4, §6.5, §6.9), then the reader.</summary>
    private void Start()
    {
        lock (_gate)
        {
            H2Frame.Preface.CopyTo(Reserve(H2Frame.Preface.Length));
            var settings = Reserve(H2Frame.HeaderLength + 12);
            H2Frame.WriteHeader(settings, 12, H2Frame.Settings, 0, 0);
            WriteSetting(settings[9..], H2Frame.SettingsEnablePush, 0);
            WriteSetting(settings[15..], H2Frame.SettingsInitialWindowSize, H2Frame.MaxWindow);
            WriteWindowUpdateLocked(0, ReceiveWindow - H2Frame.DefaultWindow);
        }

        _writer = new Thread(WriteLoop) { IsBackground = true, Name = "h2 writer" };
        _writer.Start();
        _reader = new Thread(ReadLoop) { IsBackground = true, Name = "h2 reader" };
        _reader.Start();

        static void WriteSetting(Span<byte> to, ushort id, uint value)
        {
            BinaryPrimitives.WriteUInt16BigEndian(to, id);
            BinaryPrimitives.WriteUInt32BigEndian(to[2..], value);
        }
    }

    internal override Task<byte[]> CallAsync(Method<byte[], byte[]> method, byte[] request)
    {
        var call = new H2Call(HeaderBlock(method), request);
        lock (_gate)
        {
            if (_refused is { } refused)
            {
                return Task.FromException<byte[]>(refused);
            }

            // In order: a call may only overtake the queue when there is none.
            if (_waiting.Count == 0 && _streams.Count < _maxConcurrent)
            {
                StartLocked(call);
            }
            else
            {
                _waiting.Enqueue(call);
            }

            WakeWriterLocked();
        }

        return call.Task;
    }

    /// <summary>The HEADERS block of <paramref name="method"/>, encoded on first use (copy-on-write: read without the lock).</summary>
    private byte[] HeaderBlock(Method<byte[], byte[]> method)
    {
        foreach (var (m, block) in Volatile.Read(ref _headerBlocks))
        {
            if (ReferenceEquals(m, method))
            {
                return block;
            }
        }

        var encoded = RequestHeaders.Encode(_authority, "/" + method.FullName.TrimStart('/'));
        lock (_gate)
        {
            Volatile.Write(ref _headerBlocks, [.. _headerBlocks, (method, encoded)]);
        }

        return encoded;
    }

    /// <summary>Gives the call the next stream id and writes its HEADERS in the same critical section, so ids rise in wire order (RFC 9113 §5.1.1).</summary>
    private void StartLocked(H2Call call)
    {
        if (_nextStreamId < 0)
        {
            call.Done = true;
            call.Fail(StatusCode.Unavailable, "stream ids exhausted on this connection");
            return;
        }

        call.StreamId = _nextStreamId;
        _nextStreamId += 2;
        call.SendWindow = _peerInitialWindow;
        _streams.Add(call.StreamId, call);

        var block = call.HeaderBlock;
        if (block.Length > _peerMaxFrame)
        {
            throw new InvalidOperationException($"a {block.Length}-byte request header block exceeds the server's frame size {_peerMaxFrame}");
        }

        var frame = Reserve(H2Frame.HeaderLength + block.Length);
        H2Frame.WriteHeader(frame, block.Length, H2Frame.Headers, H2Frame.EndHeaders, call.StreamId);
        block.CopyTo(frame[H2Frame.HeaderLength..]);
        if (_dataBlocked.Count > 0 || !WriteDataLocked(call))
        {
            _dataBlocked.Enqueue(call);
        }
    }

    /// <summary>As much of the call's DATA as both send windows and the server's frame size allow; true when all is written.</summary>
    private bool WriteDataLocked(H2Call call)
    {
        while (call.Sent < call.BodyLength)
        {
            var n = (int)Math.Min(Math.Min(call.BodyLength - call.Sent, _peerMaxFrame), Math.Min(_connectionSendWindow, call.SendWindow));
            if (n <= 0)
            {
                return false;
            }

            var last = call.Sent + n == call.BodyLength;
            var frame = Reserve(H2Frame.HeaderLength + n);
            H2Frame.WriteHeader(frame, n, H2Frame.Data, last ? H2Frame.EndStream : (byte)0, call.StreamId);
            call.CopyBody(call.Sent, frame.Slice(H2Frame.HeaderLength, n));
            call.Sent += n;
            call.SendWindow -= n;
            _connectionSendWindow -= n;
        }

        return true;
    }

    /// <summary>After a window grew or a stream ended: DATA that waited for window, then calls that waited for a stream slot.</summary>
    private void PumpLocked()
    {
        while (_dataBlocked.TryPeek(out var blocked))
        {
            if (!blocked.Done && !WriteDataLocked(blocked))
            {
                break;
            }

            _dataBlocked.Dequeue();
        }

        while (_refused is null && _waiting.Count > 0 && _streams.Count < _maxConcurrent)
        {
            StartLocked(_waiting.Dequeue());
        }
    }

    private void WriteWindowUpdateLocked(int streamId, int increment)
    {
        var frame = Reserve(H2Frame.HeaderLength + 4);
        H2Frame.WriteHeader(frame, 4, H2Frame.WindowUpdate, 0, streamId);
        BinaryPrimitives.WriteInt32BigEndian(frame[H2Frame.HeaderLength..], increment);
    }

    private Span<byte> Reserve(int length)
    {
        if (_out.Length - _outLength < length)
        {
            Array.Resize(ref _out, Math.Max(_out.Length * 2, _outLength + length));
        }

        var span = _out.AsSpan(_outLength, length);
        _outLength += length;
        return span;
    }

    private void WakeWriterLocked()
    {
        if (_writerIdle && _outLength > 0)
        {
            _writerIdle = false;
            Monitor.Pulse(_gate);
        }
    }

    /// <summary>The writer thread: sends the output buffer outside the lock, swapping it with a spare, until the end.</summary>
    private void WriteLoop()
    {
        while (true)
        {
            byte[] sending;
            int length;
            lock (_gate)
            {
                while (_outLength == 0 && !_closed)
                {
                    _writerIdle = true;
                    Monitor.Wait(_gate);
                }

                _writerIdle = false;
                if (_closed)
                {
                    return;
                }

                (sending, length) = (_out, _outLength);
                (_out, _spare, _outLength) = (_spare, sending, 0);
            }

            try
            {
                for (var sent = 0; sent < length;)
                {
                    sent += _socket!.Send(sending, sent, length - sent, SocketFlags.None);
                }
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                Fail(Unavailable($"sending to the server failed: {e.Message}"));
                return;
            }
        }
    }

    /// <summary>The connection is finished: every call in flight or waiting fails with <paramref name="error"/>, and so will new ones.</summary>
    private void Fail(RpcException error)
    {
        List<H2Call> failed;
        lock (_gate)
        {
            _refused ??= error;
            if (_closed)
            {
                return;
            }

            _closed = true;
            Monitor.PulseAll(_gate);
            failed = [.. _streams.Values, .. _waiting];
            _streams.Clear();
            _waiting.Clear();
            _dataBlocked.Clear();
        }

        try
        {
            _socket?.Shutdown(SocketShutdown.Both);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone: that is what we are reporting.
        }

        _socket?.Dispose();
        foreach (var call in failed)
        {
            call.Done = true;
            call.TrySetException(new RpcException(error.Status));
        }
    }

    private static RpcException Unavailable(string detail) => new(new Status(StatusCode.Unavailable, detail));

    protected override void Dispose(bool disposing) => Fail(new RpcException(new Status(StatusCode.Cancelled, "the connection was disposed")));
}
