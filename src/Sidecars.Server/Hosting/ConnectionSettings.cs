namespace Sidecars.Server.Hosting;

/// <summary>
/// Bounds on client connections, applied to Kestrel (issue 7, finding 11): without them, idle connections pile up
/// until the process runs out of file descriptors. Envoy keeps a few long-lived HTTP/2 connections per cluster,
/// far below these defaults, and reconnects when one is closed for idleness.
/// </summary>
public sealed class ConnectionSettings
{
    /// <summary>Open connections per listener; further ones are closed at once. Lowered to fit the open-files limit.</summary>
    public int MaxConcurrent { get; set; } = 4096;

    /// <summary>A connection with no request in flight is closed after this (Kestrel's default is 130 s).</summary>
    public TimeSpan KeepAliveTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Time a client gets to send a request's headers.</summary>
    public TimeSpan RequestHeadersTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest header block of one request, in bytes.</summary>
    public int MaxRequestHeadersTotalSize { get; set; } = 32 * 1024;

    public int MaxRequestHeaderCount { get; set; } = 100;

    /// <summary>Concurrent HTTP/2 streams (calls) per connection; Envoy opens another connection beyond it.</summary>
    public int MaxStreamsPerConnection { get; set; } = 100;

    /// <summary>An HTTP/2 connection silent for this long is sent a PING ...</summary>
    public TimeSpan KeepAlivePingDelay { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>... and closed if the PING is not answered within this.</summary>
    public TimeSpan KeepAlivePingTimeout { get; set; } = TimeSpan.FromSeconds(20);

    public override string ToString() =>
        $"max={MaxConcurrent}, keep_alive={KeepAliveTimeout}, headers_timeout={RequestHeadersTimeout}, max_header_bytes={MaxRequestHeadersTotalSize}, " +
        $"max_headers={MaxRequestHeaderCount}, max_streams={MaxStreamsPerConnection}, ping={KeepAlivePingDelay}/{KeepAlivePingTimeout}";

    /// <summary>Values Kestrel would reject with a bare ArgumentOutOfRangeException, as one line naming the setting.</summary>
    internal void Validate()
    {
        Positive(MaxConcurrent, "MaxConcurrent");
        Positive(MaxRequestHeadersTotalSize, "MaxRequestHeadersTotalSize");
        Positive(MaxRequestHeaderCount, "MaxRequestHeaderCount");
        Positive(MaxStreamsPerConnection, "MaxStreamsPerConnection");
        Duration(KeepAliveTimeout, "KeepAliveTimeout");
        Duration(RequestHeadersTimeout, "RequestHeadersTimeout");
        Duration(KeepAlivePingDelay, "KeepAlivePingDelay");
        Duration(KeepAlivePingTimeout, "KeepAlivePingTimeout");
    }

    private static void Positive(int value, string name)
    {
        if (value < 1)
        {
            throw new StartupException($"setting {SidecarsOptions.Section}:Connections:{name} = '{value}' must be at least 1");
        }
    }

    private static void Duration(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new StartupException($"setting {SidecarsOptions.Section}:Connections:{name} = '{value}' must be a positive duration");
        }
    }
}
