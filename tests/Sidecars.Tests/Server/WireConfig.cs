using System.Buffers.Text;
using System.Text;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Server;

/// <summary>
/// The config and hand-built protobuf bytes the wire tests share: an auth file (local RSA keys, a public and a
/// protected route), a rate limit domain with a small per-IP limit, and a service file reading the request's peer.
/// </summary>
internal static class WireConfig
{
    public const string RateLimitYaml = """
        domain: edge
        descriptors:
          - key: remote_address
            rate_limit: { unit: hour, requests_per_unit: 2 }
          - key: fuzz
            rate_limit: { unit: second, requests_per_unit: 1000000 }
        """;

    public static string AuthYaml()
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        var jwks = $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
        return $$"""
            providers:
              - name: corp
                issuer: https://idp.example.com/
                audiences: [orders-api]
                local_jwks: { inline: '{{jwks}}' }
                claim_to_headers: [{ claim: sub, header: x-user-id }]
            routes:
              - name: public
                match: { path_prefix: /public }
                requires: allow
              - name: api
                match: { path_prefix: /api }
                requires: { provider: corp }
            default: deny
            """;
    }

    /// <summary>
    /// A service owning <c>svc.example.com</c> whose route reads what a client sends besides HTTP (issue 9): the source
    /// address, the mTLS principal, a context extension, and limits keyed by the address and a header.
    /// </summary>
    public const string ServiceYaml = """
        service: svc
        owns: [{ host: svc.example.com }]
        routes:
          - name: peer
            match: { path_prefix: /public }
            requires: allow
            rules:
              - any: [{ source_ip: [10.0.0.0/8, "2001:db8::/32"] }, { principal: ["spiffe://x"] }, { context: { key: ext, in: [v] } }]
              - not: { header: { name: x-h0, regex: "(a+)+b" } }
            rate_limits:
              - { name: per-ip, per: [source_ip], unit: second, requests_per_unit: 1000000 }
              - { name: per-h1, per: [header:x-h1], unit: second, requests_per_unit: 1000000 }
        """;

    public static async Task<(SidecarServer Server, TempConfigDirectory Directory)> StartAsync(bool unixSocket = false)
    {
        var directory = new TempConfigDirectory();
        directory.Write("auth.yaml", AuthYaml());
        directory.Write("edge.yaml", RateLimitYaml);
        directory.Write("svc.yaml", ServiceYaml);
        var server = await SidecarServer.StartAsync(directory.Path, unixSocket);
        return (server, directory);
    }

    /// <summary>A valid token for the <c>api</c> route, signed now (the server runs on the real clock).</summary>
    public static string ValidToken()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return TestTokens.Rs256($$"""{"iss":"https://idp.example.com/","sub":"user-1","aud":"orders-api","iat":{{now - 10}},"exp":{{now + 3600}}}""");
    }

    public static byte[] Utf8(string text) => Encoding.UTF8.GetBytes(text);

    /// <summary>One length-delimited protobuf field: tag, length, content (any bytes, valid UTF-8 or not).</summary>
    public static byte[] Field(int number, params byte[][] content)
    {
        var body = content.SelectMany(c => c).ToArray();
        return [.. Varint((ulong)number << 3 | 2), .. Varint((ulong)body.Length), .. body];
    }

    public static byte[] VarintField(int number, ulong value) => [.. Varint((ulong)number << 3), .. Varint(value)];

    public static byte[] Varint(ulong value)
    {
        var bytes = new List<byte>();
        while (value >= 0x80)
        {
            bytes.Add((byte)(value | 0x80));
            value >>= 7;
        }

        bytes.Add((byte)value);
        return [.. bytes];
    }

    /// <summary>
    /// A CheckRequest whose string fields are the given raw bytes:
    /// attributes(1).request(4).http(2) { method(2), headers(3) map, path(4), host(5) }.
    /// </summary>
    public static byte[] CheckRequest(byte[] method, byte[] host, byte[] path, params (byte[] Name, byte[] Value)[] headers)
    {
        var http = new List<byte[]> { Field(2, method) };
        foreach (var (name, value) in headers)
        {
            http.Add(Field(3, Field(1, name), Field(2, value)));
        }

        http.Add(Field(4, path));
        http.Add(Field(5, host));
        return Field(1, Field(4, Field(2, [.. http])));
    }

    /// <summary>A RateLimitRequest: domain(1), descriptors(2) { entries(1) { key(1), value(2) } }.</summary>
    public static byte[] RateLimitRequest(byte[] domain, params (byte[] Key, byte[] Value)[] entries)
    {
        var descriptor = entries.Select(e => Field(1, Field(1, e.Key), Field(2, e.Value))).ToArray();
        return [.. Field(1, domain), .. Field(2, descriptor)];
    }
}
