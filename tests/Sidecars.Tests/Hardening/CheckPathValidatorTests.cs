using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Tests.Authentication;
using static Sidecars.Tests.Authentication.TestTokens;

namespace Sidecars.Tests.Hardening;

/// <summary>Issue 7, findings 1 and 8 at the validator: hostile input is a typed failure, never an exception; a token without kid costs a bounded number of verifies.</summary>
public sealed class CheckPathValidatorTests
{
    private static readonly JwtValidationOptions Options = new()
    {
        Issuer = "https://idp.example.com/",
        ClockSkew = TimeSpan.FromSeconds(60),
        MaxLifetime = TimeSpan.FromHours(24),
        RequiredType = "JWT",
    };

    private static string SignRaw(byte[] header, byte[] payload)
    {
        var input = Base64Url.EncodeToString(header) + "." + Base64Url.EncodeToString(payload);
        return input + "." + Base64Url.EncodeToString(Rsa.SignData(Encoding.ASCII.GetBytes(input), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1));
    }

    private static (bool Ok, JwtFailure Failure) Validate(string token, IReadOnlyList<SigningKey>? keys = null, JwtValidationOptions? options = null, DateTimeOffset? now = null)
    {
        var ok = JwtValidator.TryValidate(token, keys ?? [RsaKey()], options ?? Options, now ?? Now, out _, out var failure);
        return (ok, failure);
    }

    [Theory]
    [InlineData("""{"alg":"\ud800","typ":"JWT"}""")]
    [InlineData("""{"alg":"RS256","kid":"\ud800","typ":"JWT"}""")]
    [InlineData("""{"alg":"RS256","kid":"rsa-1","typ":"\udc00"}""")]
    [InlineData("""{"alg":"RS256","kid":"rsa-1","typ":"JWT","\ud800":1}""")]
    [InlineData("""{"alg":"RS256","kid":"rsa-1","typ":"JWT","x":1e400}""")]
    public void Header_that_is_not_I_JSON_is_refused_as_invalid(string header)
    {
        var (ok, failure) = Validate(SignRaw(Encoding.UTF8.GetBytes(header), Encoding.UTF8.GetBytes(Claims())));
        Assert.False(ok);
        Assert.Equal(JwtFailureKind.InvalidToken, failure.Kind);
    }

    [Fact]
    public void Raw_invalid_utf8_in_the_header_or_payload_is_refused()
    {
        var header = Encoding.UTF8.GetBytes("""{"alg":"RS25#","typ":"JWT"}""").Select(b => b == '#' ? (byte)0xFF : b).ToArray();
        Assert.False(Validate(SignRaw(header, Encoding.UTF8.GetBytes(Claims()))).Ok);
        var payload = Encoding.UTF8.GetBytes(Claims(""","name":"a#b" """)).Select(b => b == '#' ? (byte)0xC3 : b).ToArray();
        var (ok, failure) = Validate(SignRaw(Encoding.UTF8.GetBytes("""{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"""), payload));
        Assert.False(ok);
        Assert.Equal("token payload is not I-JSON (RFC 7493): invalid Unicode in a string", failure.Description);
    }

    [Theory]
    [InlineData(""","scope":"a \ud800" """)]
    [InlineData(""","scp":["\udfff"]""")]
    [InlineData(""","n":1e400""")]
    [InlineData(""","n":[-1e309]""")]
    public void Signed_payload_that_is_not_I_JSON_is_refused(string extra)
    {
        var (ok, failure) = Validate(SignRaw(Encoding.UTF8.GetBytes("""{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"""), Encoding.UTF8.GetBytes(Claims(extra))));
        Assert.False(ok);
        Assert.StartsWith("token payload is not I-JSON", failure.Description, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("exp", 253402300740, null)]
    [InlineData("exp", 253402300799, null)]
    [InlineData("nbf", 253402300799, "token is not valid yet")]
    [InlineData("iat", 253402300799, "token is issued in the future")]
    public void Time_claims_at_the_end_of_the_calendar_do_not_overflow(string claim, long value, string? refusal)
    {
        var payload = $$"""{"iss":"https://idp.example.com/","{{claim}}":{{value}}{{(claim == "exp" ? "" : ",\"exp\":253402300799")}}}""";
        var token = SignRaw(Encoding.UTF8.GetBytes("""{"alg":"RS256","kid":"rsa-1"}"""), Encoding.UTF8.GetBytes(payload));
        var (ok, failure) = Validate(token, options: new JwtValidationOptions { Issuer = "https://idp.example.com/", ClockSkew = TimeSpan.FromSeconds(60) });
        Assert.Equal(refusal is null, ok);
        Assert.Equal(refusal ?? string.Empty, failure.Description ?? string.Empty);

        // max_lifetime compares exp with iat (or now): no overflow either.
        var bounded = Validate(token, options: new JwtValidationOptions { Issuer = "https://idp.example.com/", MaxLifetime = TimeSpan.FromHours(1) });
        Assert.False(bounded.Ok);
    }

    [Fact]
    public void Huge_clock_skew_does_not_overflow_against_the_epoch()
    {
        var token = SignRaw(Encoding.UTF8.GetBytes("""{"alg":"RS256","kid":"rsa-1","typ":"JWT"}"""), Encoding.UTF8.GetBytes("""{"iss":"https://idp.example.com/","nbf":0,"iat":0,"exp":1}"""));
        var (ok, _) = Validate(token, options: new JwtValidationOptions { Issuer = "https://idp.example.com/", ClockSkew = TimeSpan.MaxValue }, now: DateTimeOffset.UnixEpoch);
        Assert.True(ok);
    }

    [Fact]
    public void A_token_without_kid_is_tried_against_at_most_three_keys_that_fit_its_alg()
    {
        var token = Sign("""{"alg":"RS256","typ":"JWT"}""", Claims(), "RS256");
        var others = Enumerable.Range(0, 6).Select(_ => SigningKey.FromRsa(null, RSA.Create(2048).ExportParameters(false))).ToList();
        var ecs = Enumerable.Range(0, 10).Select(i => SigningKey.FromEc(null, "P-256", ECDsa.Create(ECCurve.NamedCurves.nistP256).ExportParameters(false))).ToList();

        // Keys that do not fit RS256 are not tried at all, so they do not count.
        Assert.True(Validate(token, [.. ecs, others[0], others[1], RsaKey(kid: null)]).Ok);

        // The right key after three that fit is never reached: the cost is bounded, the issuer must send kid.
        var (ok, failure) = Validate(token, [others[0], others[1], others[2], RsaKey(kid: null)]);
        Assert.False(ok);
        Assert.Equal("signature verification failed", failure.Description);

        // The same bound holds for a kid that many kid-less keys would match.
        var withKid = Sign("""{"alg":"RS256","typ":"JWT","kid":"rsa-1"}""", Claims(), "RS256");
        Assert.False(Validate(withKid, [.. others, RsaKey(kid: null)]).Ok);
        Assert.True(Validate(withKid, [.. others, RsaKey()]).Ok);
    }

    private sealed record Request(string Path, Dictionary<string, string> Headers) : IRequestView
    {
        public string Method => "GET";

        public string Host => "orders.example.com";

        public string? Header(string name) => Headers.GetValueOrDefault(name);
    }

    [Fact]
    public void A_repeated_bad_signature_is_answered_from_the_failure_cache()
    {
        var clock = new FakeTimeProvider(Now);
        var cache = new TokenCache(100, clock);
        var failures = new FailedTokenCache(16);
        var provider = new JwtProvider("corp", new JwtValidationOptions { Issuer = "https://idp.example.com/" });
        provider.SetKeys([.. Enumerable.Range(0, 5).Select(_ => SigningKey.FromRsa(null, RSA.Create(2048).ExportParameters(false)))]);
        var providers = new Dictionary<string, JwtProvider> { ["corp"] = provider };
        AuthRoute[] routes = [new("all", new RouteMatch(pathPrefix: "/"), new ProviderRequirement("corp"))];
        var bad = new Request("/orders", new() { ["authorization"] = "Bearer " + Sign("""{"alg":"RS256"}""", Claims(), "RS256") });

        AuthDecision Decide(Request request)
        {
            var tokens = RequestTokens.Rent(request, providers, cache, clock, failures);
            try
            {
                return AuthEvaluator.Decide(routes, false, request, tokens);
            }
            finally
            {
                RequestTokens.Return(tokens);
            }
        }

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal((401, "signature verification failed"), (Decide(bad).Status, Decide(bad).Description));
        }

        Assert.Equal(5, failures.Hits);

        // A new key set is a new question: the entry no longer applies, and the right key now verifies the token.
        provider.SetKeys([RsaKey(kid: null)]);
        Assert.True(Decide(bad).Allowed);

        // Expired entries are forgotten.
        provider.SetKeys([.. Enumerable.Range(0, 2).Select(_ => SigningKey.FromRsa(null, RSA.Create(2048).ExportParameters(false)))]);
        Assert.False(Decide(bad).Allowed);
        var hits = failures.Hits;
        clock.Advance(FailedTokenCache.Lifetime + TimeSpan.FromSeconds(1));
        Assert.False(Decide(bad).Allowed);
        Assert.Equal(hits, failures.Hits);
    }

    /// <summary>
    /// Thousands of mutated JWTs (bytes flipped, JSON fragments spliced in, lone surrogates, huge numbers, deep
    /// nesting, duplicate members, every alg) through the validator: a result every time, never an exception.
    /// The seed is printed on failure; SIDECARS_FUZZ_SEED and SIDECARS_FUZZ_COUNT repeat or lengthen a run.
    /// </summary>
    [Fact]
    public void Mutated_tokens_never_throw_from_the_validator()
    {
        var seed = int.TryParse(Environment.GetEnvironmentVariable("SIDECARS_FUZZ_SEED"), out var s) ? s : Environment.TickCount;
        var count = int.TryParse(Environment.GetEnvironmentVariable("SIDECARS_FUZZ_COUNT"), out var c) ? c : 4000;
        var random = new Random(seed);
        IReadOnlyList<SigningKey> keys = [RsaKey(), RsaKey(kid: null), EcKey(), SigningKey.FromSecret("h1", Secret)];
        string[] algs = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "HS256", "HS384", "HS512", "none", "NONE", "", "\\ud800", "RS256\\u0000"];
        string[] fragments =
        [
            "\\ud800", "\\udfff", "\\u0000", "\\r\\n", "1e400", "-1e999", "123456789012345678901234567890", "253402300799", "253402300740",
            "-1", "0.5e-400", "NaN", "null", "true", "[]", "{}", new string('[', 40) + new string(']', 40), "{\"a\":" + new string('{', 33),
            "\"kid\":\"rsa-1\",\"kid\":\"x\"", "\"crit\":[\"exp\"]", "\"exp\":\"soon\"", "\"aud\":[1,{\"x\":\"\\ud800\"}]", "\"scope\":[\"\\udc00\"]",
        ];
        string[] claimNames = ["iss", "sub", "aud", "exp", "nbf", "iat", "scope", "scp", "kid", "alg", "typ", "\\ud800"];

        var i = 0;
        try
        {
            for (; i < count; i++)
            {
                var alg = algs[random.Next(algs.Length)];
                var header = random.Next(4) switch
                {
                    0 => $$"""{"alg":"{{alg}}","typ":"JWT","kid":"rsa-1"}""",
                    1 => $$"""{"alg":"{{alg}}","kid":"{{fragments[random.Next(fragments.Length)]}}"}""",
                    2 => $$"""{"alg":"{{alg}}","{{claimNames[random.Next(claimNames.Length)]}}":{{fragments[random.Next(fragments.Length)]}}}""",
                    _ => "{" + fragments[random.Next(fragments.Length)] + "}",
                };
                var payload = Claims(",\"" + claimNames[random.Next(claimNames.Length)] + "\":" + fragments[random.Next(fragments.Length)]);
                var headerBytes = Encoding.UTF8.GetBytes(header);
                var payloadBytes = Encoding.UTF8.GetBytes(payload);
                Mutate(random, headerBytes);
                Mutate(random, payloadBytes);

                // Signed for real half the time, so the claims checks are reached too.
                var token = random.Next(2) == 0 ? SignRaw(headerBytes, payloadBytes) : Base64Url.EncodeToString(headerBytes) + "." + Base64Url.EncodeToString(payloadBytes) + "." + Base64Url.EncodeToString(RandomBytes(random));
                if (random.Next(8) == 0)
                {
                    var chars = token.ToCharArray();
                    chars[random.Next(chars.Length)] = (char)random.Next(0, 0x10000);
                    token = new string(chars);
                }

                var ok = JwtValidator.TryValidate(token, keys, Options, Now, out var validated, out var failure);
                Assert.True(ok ? validated is not null : failure.Kind != JwtFailureKind.None);
                if (ok)
                {
                    var scopes = validated!.Scopes;
                    Assert.All(scopes, scope => Assert.True(validated.HasScope(scope)));
                    Assert.False(validated.HasScope("not-granted-" + i));
                    _ = validated.Subject;
                }
            }
        }
        catch (Exception e)
        {
            Assert.Fail($"seed {seed}, iteration {i}: {e.GetType().Name}: {e.Message}\n{e.StackTrace}");
        }
    }

    private static void Mutate(Random random, byte[] bytes)
    {
        var flips = random.Next(3);
        for (var j = 0; j < flips && bytes.Length > 0; j++)
        {
            bytes[random.Next(bytes.Length)] = random.Next(3) switch
            {
                0 => 0xFF,
                1 => (byte)random.Next(256),
                _ => (byte)"\"\\{}[],:"[random.Next(8)],
            };
        }
    }

    private static byte[] RandomBytes(Random random)
    {
        var bytes = new byte[random.Next(0, 300)];
        random.NextBytes(bytes);
        return bytes;
    }
}
