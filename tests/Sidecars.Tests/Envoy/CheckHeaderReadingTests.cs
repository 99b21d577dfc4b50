using System.Buffers.Text;
using Envoy.Service.Auth.V3;
using Google.Protobuf;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Envoy.Authorization;
using Sidecars.Envoy.Wire;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// The token is read from the kept header bytes as characters (<c>IRequestView.TryHeader</c>) instead of a string:
/// whatever a client puts in its headers, the server's fast reading must answer exactly as the whole parse does.
/// </summary>
public sealed class CheckHeaderReadingTests
{
    private static string Yaml()
    {
        var p = TestTokens.Rsa.ExportParameters(false);
        var jwks = $$"""{"keys":[{"kty":"RSA","kid":"rsa-1","n":"{{Base64Url.EncodeToString(p.Modulus)}}","e":"{{Base64Url.EncodeToString(p.Exponent)}}"}]}""";
        return $$"""
            providers:
              - name: corp
                issuer: https://idp.example.com/
                audiences: [orders-api]
                local_jwks: { inline: '{{jwks}}' }
                forward: false
                from_headers: [{ name: authorization, value_prefix: 'Bearer ' }, { name: x-token }]
                from_cookies: [session]
                claim_to_headers: [{ claim: sub, header: x-user-id }]
            routes:
              - name: all
                match: { path_prefix: / }
                requires: { provider: corp }
            """;
    }

    private static AuthorizationServiceAdapter Adapter()
    {
        var clock = new FakeTimeProvider(TestTokens.Now);
        return new AuthorizationServiceAdapter(TestConfig.State(Yaml()), new TokenCache(100, clock), clock, new AuthResponseOptions(), NullLogger<AuthorizationServiceAdapter>.Instance);
    }

    private static byte[] Request(params (string Key, string Value)[] headers)
    {
        var http = new AttributeContext.Types.HttpRequest { Method = "GET", Host = "orders.example.com", Path = "/orders/1", Scheme = "https" };
        http.Headers.Add(":authority", "orders.example.com");
        http.Headers.Add(":path", "/orders/1");
        foreach (var (key, value) in headers)
        {
            http.Headers.Add(key, value);
        }

        return new CheckRequest { Attributes = new AttributeContext { Request = new AttributeContext.Types.Request { Http = http } } }.ToByteArray();
    }

    private static byte[] OnTheWire(CheckAnswer answer)
    {
        var context = new BufferSerializationContext();
        EnvoyWire.Check.ResponseMarshaller.ContextualSerializer(answer, context);
        return context.Written.ToArray();
    }

    // A token longer than the view's first character buffer (2,048), so reading it takes a new one.
    private static readonly string LongToken = TestTokens.Rs256(TestTokens.Claims($",\"note\":\"{new string('n', 3000)}\""));

    public static TheoryData<string, bool, string[]> Cases() => new()
    {
        { "bearer header", true, ["authorization", "Bearer " + TestTokens.Rs256()] },
        { "lower-case scheme and spaces", true, ["authorization", "bearer   " + TestTokens.Rs256() + "  "] },
        { "token longer than the buffer", true, ["authorization", "Bearer " + LongToken] },
        { "long value of another scheme, then the next location", true, ["authorization", "Basic " + LongToken, "x-token", TestTokens.Rs256()] },
        { "long value of another scheme, then a cookie", true, ["authorization", "Basic " + LongToken, "cookie", "theme=dark; session=" + TestTokens.Rs256()] },
        { "tampered long token", false, ["authorization", "Bearer " + LongToken + "x"] },
        { "second header location", true, ["x-token", TestTokens.Rs256()] },
        { "cookie only", true, ["cookie", "a=1; session=" + TestTokens.Rs256() + "; b=2"] },
        { "non-ASCII in the token", false, ["authorization", "Bearer " + TestTokens.Rs256() + "é"] },
        { "non-ASCII header next to a valid token", true, ["x-note", "grüße ✓", "authorization", "Bearer " + TestTokens.Rs256()] },
        { "prefix only", false, ["authorization", "Bearer "] },
        { "no token", false, ["user-agent", "curl/8.5.0"] },
        { "client-sent identity header", true, ["x-user-id", "admin", "authorization", "Bearer " + TestTokens.Rs256()] },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task The_fast_reading_answers_as_the_whole_parse(string name, bool allowed, string[] pairs)
    {
        var headers = Enumerable.Range(0, pairs.Length / 2).Select(i => (pairs[i * 2], pairs[(i * 2) + 1])).ToArray();
        var bytes = Request(headers);
        var call = EnvoyWire.ReadCheck(bytes);
        Assert.True(call.Headers is not null, $"{name}: the fast reading must keep the headers as bytes");

        var adapter = Adapter();
        var parsed = await Adapter().Answer(EnvoyWire.ReadCheckRequest(bytes));
        Assert.True(allowed == (parsed.StatusCode == 0), $"{name}: status {parsed.StatusCode}");
        var whole = OnTheWire(parsed);

        // Twice on the fast path: the second answer may be the one kept with the cached token.
        for (var i = 0; i < 2; i++)
        {
            Assert.Equal(whole, OnTheWire(await adapter.Answer(EnvoyWire.ReadCheck(bytes))));
        }
    }

    [Fact]
    public void A_header_read_again_after_the_buffer_grew_reads_the_same()
    {
        var call = EnvoyWire.ReadCheck(Request(("authorization", "Bearer short"), ("cookie", "session=" + LongToken), ("x-token", new string('t', 5000))));
        Assert.NotNull(call.Headers);
        var view = CheckRequestView.Rent(call.Http!, call.Headers);
        try
        {
            Assert.True(view.TryHeader("authorization", out var first));
            var kept = first.ToString();
            Assert.True(view.TryHeader("cookie", out var cookie));
            Assert.True(view.TryHeader("x-token", out var xToken));
            Assert.True(view.TryHeader("authorization", out var again));

            Assert.Equal("Bearer short", kept);
            Assert.Equal("Bearer short", first.ToString());
            Assert.Equal("Bearer short", again.ToString());
            Assert.Equal("session=" + LongToken, cookie.ToString());
            Assert.Equal(new string('t', 5000), xToken.ToString());
            Assert.False(view.TryHeader("x-missing", out _));
            Assert.True(view.HasHeader("x-token"));
            Assert.False(view.HasHeader("x-missing"));
        }
        finally
        {
            CheckRequestView.Return(view);
        }
    }
}
