using Envoy.Config.Core.V3;
using Envoy.Extensions.Common.Ratelimit.V3;
using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf.WellKnownTypes;

namespace Sidecars.Load.Scenarios;

/// <summary>
/// Requests shaped as Envoy sends them: ext_authz's CheckRequest for GET https://orders.example.com/orders/1?x=1 from
/// a downstream client through Envoy's listener, and the ratelimit filter's RateLimitRequest for the same user.
/// </summary>
internal static class EnvoyMessages
{
    public const string Domain = "load";

    /// <summary>The downstream client's address for user <paramref name="user"/>: 10,000 distinct addresses.</summary>
    public static string RemoteAddress(int user) => $"10.{1 + user / 62500}.{user / 250 % 250}.{1 + user % 250}";

    public static string RequestPath(int user) => $"/orders/{1 + user % 1000}";

    public static CheckRequest Check(int user, string? authorization, string host = "orders.example.com")
    {
        var http = new AttributeContext.Types.HttpRequest
        {
            Id = RequestId(user),
            Method = "GET",
            Path = "/orders/1?x=1",
            Host = host,
            Scheme = "https",
            Protocol = "HTTP/2",
            Size = 0,
        };

        // The 13 headers Envoy puts in attributes.request.http.headers for this request (pseudo-headers included).
        var h = http.Headers;
        h[":authority"] = host;
        h[":method"] = "GET";
        h[":path"] = "/orders/1?x=1";
        h[":scheme"] = "https";
        h["user-agent"] = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
        h["accept"] = "application/json";
        h["accept-encoding"] = "gzip, deflate, br";
        h["accept-language"] = "en-US,en;q=0.9";
        h["x-forwarded-proto"] = "https";
        h["x-forwarded-for"] = RemoteAddress(user);
        h["x-request-id"] = http.Id;
        h["x-envoy-expected-rq-timeout-ms"] = "15000";
        if (authorization is not null)
        {
            h["authorization"] = authorization;
        }
        else
        {
            h["cookie"] = "theme=dark";
        }

        return new CheckRequest
        {
            Attributes = new AttributeContext
            {
                Source = new AttributeContext.Types.Peer { Address = Socket(RemoteAddress(user), (uint)(40000 + user % 20000)) },
                Destination = new AttributeContext.Types.Peer { Address = Socket("10.0.0.10", 8443) },
                Request = new AttributeContext.Types.Request
                {
                    Time = Timestamp.FromDateTimeOffset(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero).AddMilliseconds(user)),
                    Http = http,
                },
            },
        };
    }

    /// <summary>One descriptor (user_id), or three (user_id, path, remote_address) as three rate_limits actions make them.</summary>
    public static RateLimitRequest RateLimit(int user, int descriptors)
    {
        var request = new RateLimitRequest { Domain = Domain, HitsAddend = 1 };
        request.Descriptors.Add(Descriptor("user_id", "user-" + user));
        if (descriptors == 3)
        {
            request.Descriptors.Add(Descriptor("path", RequestPath(user)));
            request.Descriptors.Add(Descriptor("remote_address", RemoteAddress(user)));
        }

        return request;
    }

    private static RateLimitDescriptor Descriptor(string key, string value)
    {
        var d = new RateLimitDescriptor();
        d.Entries.Add(new RateLimitDescriptor.Types.Entry { Key = key, Value = value });
        return d;
    }

    private static Address Socket(string ip, uint port) => new() { SocketAddress = new SocketAddress { Address = ip, PortValue = port } };

    private static string RequestId(int user) => new Guid(user, 0x4c6f, 0x4164, 0x8a, 0x1b, 0x2c, 0x3d, 0x4e, 0x5f, 0x60, 0x71).ToString();
}
