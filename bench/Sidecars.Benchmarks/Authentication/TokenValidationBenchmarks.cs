using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using BenchmarkDotNet.Attributes;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Sidecars.Authentication;
using Sidecars.Authorization;

namespace Sidecars.Benchmarks.Authentication;

/// <summary>
/// Cold validation of one RS256 token (no cache): Sidecars' validator against the bare signature check it
/// cannot avoid (baseline: <see cref="RSA.VerifyData(byte[], byte[], HashAlgorithmName, RSASignaturePadding)"/>
/// on the same bytes) and against Microsoft.IdentityModel's JsonWebTokenHandler with equivalent checks.
/// Budget from the ext_authz issue: within 1.3× of the bare RSA verification.
/// </summary>
[SimpleJob(warmupCount: 3, iterationCount: 15)]
public class TokenValidationBenchmarks
{
    private RSA _rsa = null!;
    private string _token = null!;
    private byte[] _signingInput = null!;
    private byte[] _signature = null!;
    private SigningKey[] _keys = null!;
    private JwtValidationOptions _options = null!;
    private DateTimeOffset _now;
    private JsonWebTokenHandler _handler = null!;
    private TokenValidationParameters _parameters = null!;
    private TokenCache _cache = null!;
    private Dictionary<string, JwtProvider> _providers = null!;
    private AuthRoute[] _routes = null!;
    private BenchRequest _request = null!;

    private sealed class BenchRequest(string authorization) : IRequestView
    {
        public string Method => "GET";

        public string Host => "orders.example.com";

        public string Path => "/orders/42?expand=items";

        public string? Header(string name) => name == "authorization" ? authorization : null;
    }

    [GlobalSetup]
    public void Setup()
    {
        _rsa = RSA.Create(2048);
        _now = DateTimeOffset.UtcNow;
        var header = Base64Url.EncodeToString("""{"alg":"RS256","typ":"JWT","kid":"k1"}"""u8);
        var payload = Base64Url.EncodeToString(Encoding.UTF8.GetBytes(
            $$"""{"iss":"https://idp.example.com/","sub":"user-1","aud":"orders-api","scope":"orders:read orders:write","iat":{{_now.ToUnixTimeSeconds() - 60}},"exp":{{_now.ToUnixTimeSeconds() + 3600}}}"""));
        _signingInput = Encoding.ASCII.GetBytes(header + "." + payload);
        _signature = _rsa.SignData(_signingInput, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        _token = header + "." + payload + "." + Base64Url.EncodeToString(_signature);

        _keys = [SigningKey.FromRsa("k1", _rsa.ExportParameters(false))];
        _options = new JwtValidationOptions { Issuer = "https://idp.example.com/", Audiences = ["orders-api"] };

        _handler = new JsonWebTokenHandler();
        var key = new RsaSecurityKey(_rsa.ExportParameters(false)) { KeyId = "k1" };
        _parameters = new TokenValidationParameters
        {
            ValidIssuer = "https://idp.example.com/",
            ValidAudience = "orders-api",
            IssuerSigningKey = key,
            ValidAlgorithms = ["RS256"],
            ClockSkew = TimeSpan.FromSeconds(60),
        };
        if (!JwtValidator.TryValidate(_token, _keys, _options, _now, out _, out var failure))
        {
            throw new InvalidOperationException(failure.Description);
        }

        var provider = new JwtProvider("corp", _options);
        provider.SetKeys(_keys);
        _providers = new Dictionary<string, JwtProvider> { ["corp"] = provider };
        _cache = new TokenCache(10_000, TimeProvider.System);
        _routes =
        [
            new("health", new RouteMatch(path: "/healthz"), Requirement.Allow),
            new("orders-read", new RouteMatch(host: "orders.example.com", pathPrefix: "/orders", methods: ["GET", "HEAD"]), new ProviderRequirement("corp", Scopes: ["orders:read"])),
        ];
        _request = new BenchRequest("Bearer " + _token);
        if (!CachedDecision())
        {
            throw new InvalidOperationException("the cached decision should allow");
        }
    }

    [Benchmark(Baseline = true, Description = "RSA.VerifyData only (the crypto floor)")]
    public bool BareRsaVerify() => _rsa.VerifyData(_signingInput, _signature, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);

    [Benchmark(Description = "Sidecars JwtValidator, RS256, all checks")]
    public bool Sidecars() => JwtValidator.TryValidate(_token, _keys, _options, _now, out _, out _);

    /// <summary>
    /// A whole authorization decision in the core on a cached token: route match, token extraction, cache
    /// hit, scope check. Budget from the ext_authz issue: under 2 µs, 0 bytes, and ≥ 20× faster than
    /// JsonWebTokenHandler.ValidateTokenAsync on the same token.
    /// </summary>
    [Benchmark(Description = "Sidecars decision, cached token (route + extract + cache + scope)")]
    public bool CachedDecision()
    {
        var tokens = RequestTokens.Rent(_request, _providers, _cache, TimeProvider.System);
        var decision = AuthEvaluator.Decide(_routes, false, _request, tokens);
        RequestTokens.Return(tokens);
        return decision.Allowed;
    }

    [Benchmark(Description = "JsonWebTokenHandler.ValidateTokenAsync, RS256")]
    public bool IdentityModel() => _handler.ValidateTokenAsync(_token, _parameters).GetAwaiter().GetResult().IsValid;
}
