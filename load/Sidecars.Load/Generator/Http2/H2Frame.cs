using System.Buffers.Binary;

namespace Sidecars.Load.Generator.Http2;

/// <summary>HTTP/2 frame layout and codes (RFC 9113 §4.1, §6, §7, §11.2).</summary>
internal static class H2Frame
{
    public const int HeaderLength = 9;

    /// <summary>SETTINGS_MAX_FRAME_SIZE's initial value; we never raise ours, so no frame we read is larger.</summary>
    public const int DefaultMaxFrameSize = 16_384;

    /// <summary>The initial flow-control window of every stream and of the connection (RFC 9113 §6.9.2).</summary>
    public const int DefaultWindow = 65_535;

    public const int MaxWindow = int.MaxValue;

    public const byte Data = 0, Headers = 1, Priority = 2, RstStream = 3, Settings = 4, PushPromise = 5, Ping = 6, GoAway = 7, WindowUpdate = 8, Continuation = 9;

    public const byte EndStream = 0x1, Ack = 0x1, EndHeaders = 0x4, Padded = 0x8, PriorityFlag = 0x20;

    public const ushort SettingsHeaderTableSize = 1, SettingsEnablePush = 2, SettingsMaxConcurrentStreams = 3, SettingsInitialWindowSize = 4, SettingsMaxFrameSize = 5;

    public static ReadOnlySpan<byte> Preface => "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"u8;

    public static void WriteHeader(Span<byte> to, int length, byte type, byte flags, int streamId)
    {
        to[0] = (byte)(length >> 16);
        to[1] = (byte)(length >> 8);
        to[2] = (byte)length;
        to[3] = type;
        to[4] = flags;
        BinaryPrimitives.WriteInt32BigEndian(to[5..], streamId & int.MaxValue);
    }

    public static int ReadLength(ReadOnlySpan<byte> header) => (header[0] << 16) | (header[1] << 8) | header[2];

    public static int ReadStreamId(ReadOnlySpan<byte> header) => BinaryPrimitives.ReadInt32BigEndian(header[5..]) & int.MaxValue;

    public static string ErrorName(uint code) => code switch
    {
        0 => "NO_ERROR",
        1 => "PROTOCOL_ERROR",
        2 => "INTERNAL_ERROR",
        3 => "FLOW_CONTROL_ERROR",
        4 => "SETTINGS_TIMEOUT",
        5 => "STREAM_CLOSED",
        6 => "FRAME_SIZE_ERROR",
        7 => "REFUSED_STREAM",
        8 => "CANCEL",
        9 => "COMPRESSION_ERROR",
        10 => "CONNECT_ERROR",
        11 => "ENHANCE_YOUR_CALM",
        12 => "INADEQUATE_SECURITY",
        13 => "HTTP_1_1_REQUIRED",
        _ => "unknown",
    };
}

/// <summary>A connection error (RFC 9113 §5.4.1): the peer broke the protocol, so the connection cannot go on.</summary>
internal sealed class H2ProtocolException(string message) : Exception(message);
