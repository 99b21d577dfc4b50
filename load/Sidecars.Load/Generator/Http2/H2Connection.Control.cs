using System.Buffers.Binary;
using Grpc.Core;

namespace Sidecars.Load.Generator.Http2;

/// <summary>The connection-level frames the reader answers: the server's SETTINGS and its GOAWAY.</summary>
internal sealed partial class H2Connection
{
    private void OnSettings(ReadOnlySpan<byte> payload)
    {
        if (payload.Length % 6 != 0)
        {
            throw new H2ProtocolException($"a SETTINGS frame of {payload.Length} bytes");
        }

        lock (_gate)
        {
            // The first SETTINGS is the server's preface: until it came, calls waited; no limit named means none.
            if (_maxConcurrent == 0)
            {
                _maxConcurrent = int.MaxValue;
            }

            for (var at = 0; at < payload.Length; at += 6)
            {
                var id = BinaryPrimitives.ReadUInt16BigEndian(payload[at..]);
                var value = BinaryPrimitives.ReadUInt32BigEndian(payload[(at + 2)..]);
                switch (id)
                {
                    case H2Frame.SettingsMaxConcurrentStreams:
                        _maxConcurrent = (int)Math.Min(value, int.MaxValue);
                        break;
                    case H2Frame.SettingsInitialWindowSize when value <= H2Frame.MaxWindow:
                        // A change applies to every open stream's window (RFC 9113 §6.9.2).
                        var delta = (int)value - _peerInitialWindow;
                        _peerInitialWindow = (int)value;
                        foreach (var call in _streams.Values)
                        {
                            call.SendWindow += delta;
                        }

                        break;
                    case H2Frame.SettingsMaxFrameSize when value is >= H2Frame.DefaultMaxFrameSize and <= 16_777_215:
                        _peerMaxFrame = (int)value;
                        break;
                    case H2Frame.SettingsInitialWindowSize or H2Frame.SettingsMaxFrameSize:
                        throw new H2ProtocolException($"SETTINGS {id} = {value} is out of range");
                    default:
                        // HEADER_TABLE_SIZE only bounds an encoder's dynamic table, and ours uses none.
                        break;
                }
            }

            var ack = Reserve(H2Frame.HeaderLength);
            H2Frame.WriteHeader(ack, 0, H2Frame.Settings, H2Frame.Ack, 0);
            PumpLocked();
        }
    }

    /// <summary>Streams above <paramref name="lastStream"/> were never processed and fail; the ones below may still finish.</summary>
    private void OnGoAway(int lastStream, uint code, ReadOnlySpan<byte> debug)
    {
        var detail = $"the server sent GOAWAY {code} ({H2Frame.ErrorName(code)}){(debug.IsEmpty ? "" : ": " + System.Text.Encoding.UTF8.GetString(debug))}";
        List<H2Call> failed;
        bool idle;
        lock (_gate)
        {
            _refused ??= Unavailable(detail);
            failed = [.. _waiting];
            _waiting.Clear();
            foreach (var (id, call) in _streams)
            {
                if (id > lastStream)
                {
                    failed.Add(call);
                }
            }

            foreach (var call in failed)
            {
                _streams.Remove(call.StreamId);
                call.Done = true;
            }

            idle = _streams.Count == 0;
        }

        foreach (var call in failed)
        {
            call.Fail(StatusCode.Unavailable, detail);
        }

        if (idle && code != 0)
        {
            Fail(Unavailable(detail));
        }
    }
}
