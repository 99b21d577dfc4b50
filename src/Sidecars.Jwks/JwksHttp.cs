using System.Net.Http.Headers;
using System.Net.Sockets;
using Sidecars.Authentication;

namespace Sidecars.Jwks;

/// <summary>
/// One bounded GET of a key set or discovery document: the URI policy (<see cref="JwksUriPolicy"/>) before
/// any connection, no redirects (a 3xx is a failure: a redirect could lead a fetch anywhere, plain http
/// included), a size cap while reading, a timeout. Every failure is a short message of our own, never an
/// exception and never the framework's text (which the trimmed binary may reduce to a resource key).
/// </summary>
public static class JwksHttp
{
    /// <summary>The client JWKS sources share: redirects off, pooled connections renewed so DNS changes are seen.</summary>
    public static HttpClient CreateClient() => new(new SocketsHttpHandler
    {
        AllowAutoRedirect = false,
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        MaxResponseHeadersLength = 64,
    });

    internal readonly record struct Result(byte[]? Body, TimeSpan? MaxAge, string? Error);

    internal static async Task<Result> GetAsync(HttpClient http, Uri uri, JwksOptions options, TimeProvider time)
    {
        if (JwksUriPolicy.Check(uri) is { } refused)
        {
            return new Result(null, null, $"{JwksUriPolicy.Redact(uri)}: {refused}");
        }

        using var timeout = new CancellationTokenSource(options.FetchTimeout, time);
        try
        {
            using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, timeout.Token).ConfigureAwait(false);
            var status = (int)response.StatusCode;
            if (status is >= 300 and < 400)
            {
                return Failed($"HTTP {status}: redirects are not followed");
            }

            if (response.RequestMessage?.RequestUri is { } final && final != uri)
            {
                // A client that follows redirects by itself: the answer came from elsewhere, so it is refused.
                return Failed("redirected: redirects are not followed");
            }

            if (!response.IsSuccessStatusCode)
            {
                return Failed($"HTTP {status}");
            }

            if (response.Content.Headers.ContentLength > options.MaxBytes)
            {
                return Failed($"document larger than {options.MaxBytes} bytes");
            }

            await using var stream = await response.Content.ReadAsStreamAsync(timeout.Token).ConfigureAwait(false);
            using var buffer = new MemoryStream();
            var chunk = new byte[16 * 1024];
            int read;
            while ((read = await stream.ReadAsync(chunk, timeout.Token).ConfigureAwait(false)) > 0)
            {
                if (buffer.Length + read > options.MaxBytes)
                {
                    return Failed($"document larger than {options.MaxBytes} bytes");
                }

                buffer.Write(chunk, 0, read);
            }

            return new Result(buffer.ToArray(), MaxAge(response.Headers.CacheControl), null);
        }
        catch (OperationCanceledException) when (timeout.IsCancellationRequested)
        {
            return Failed($"no answer within {options.FetchTimeout}");
        }
        catch (HttpRequestException e)
        {
            return Failed(Describe(e));
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or OperationCanceledException or NotSupportedException)
        {
            return Failed($"the fetch failed ({e.GetType().Name})");
        }
    }

    private static Result Failed(string error) => new(null, null, error);

    /// <summary>"cannot connect: ConnectionError (ConnectionRefused)": the error kind and socket code, in our words.</summary>
    private static string Describe(HttpRequestException e)
    {
        var socket = e.InnerException as SocketException ?? e.InnerException?.InnerException as SocketException;
        var kind = e.HttpRequestError == HttpRequestError.Unknown && e.StatusCode is { } code ? $"HTTP {(int)code}" : e.HttpRequestError.ToString();
        return socket is null ? $"cannot fetch: {kind}" : $"cannot fetch: {kind} ({socket.SocketErrorCode})";
    }

    private static TimeSpan? MaxAge(CacheControlHeaderValue? cacheControl) =>
        cacheControl is { NoStore: false, NoCache: false, MaxAge: { } age } ? age : null;
}
