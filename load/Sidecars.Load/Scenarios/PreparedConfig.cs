using System.Security.Cryptography;
using System.Text.Json;
using Sidecars.Load.Model;

namespace Sidecars.Load.Scenarios;

/// <summary>
/// A sidecar config directory written by <c>sidecars-load prepare</c>, and what the generator needs from it: the
/// signing key and pools of pre-signed tokens, so a run spends no time signing.
/// </summary>
public sealed partial class PreparedConfig
{
    /// <summary>Users in the token pool and keys in the rate limit descriptors.</summary>
    public const int Users = 10_000;

    /// <summary>
    /// check-cold's pool, pre-signed (signing on the fly would spend about a millisecond of the generator's CPU per
    /// call): three times the sidecar's default token cache (<c>Sidecars:Auth:TokenCacheSize</c>, 10,000). The first
    /// pass through it (30,000 calls) is cold whatever the cache does; after that, a cache that evicts the oldest
    /// still misses every call, one that stops adding when full (today's TokenCache) hits the tokens it kept. A run
    /// that wraps around says so in its notes.
    /// </summary>
    public const int ColdTokens = 30_000;

    /// <summary>Tokens of each bad kind (expired, wrong audience, bad signature) for check-deny.</summary>
    public const int DenyTokensPerKind = 100;

    public const string KeyId = "load-1";

    /// <summary>The host the service file of check+limit owns.</summary>
    public const string LimitedHost = "limited.example.com";

    private PreparedConfig(string directory, TokenPool pool)
    {
        Directory = directory;
        Pool = pool;
    }

    /// <summary>The config directory (pass it to <c>sidecars serve --config</c>).</summary>
    public string Directory { get; }

    /// <summary>One valid RS256 token per user, index = user number.</summary>
    public IReadOnlyList<string> Tokens => Pool.Tokens;

    internal TokenPool Pool { get; }

    /// <summary>DIR/h2load/&lt;scenario&gt;.bin: one request as a gRPC length-prefixed frame.</summary>
    public string H2LoadBody(string scenario) => Path.Combine(Directory, "h2load", scenario + ".bin");

    /// <summary>DIR/h2load/&lt;scenario&gt;.expect.json: the gRPC path, frame sizes and the expected outcome.</summary>
    public string H2LoadExpect(string scenario) => Path.Combine(Directory, "h2load", scenario + ".expect.json");

    /// <summary>Writes a fresh config into <paramref name="dir"/> (new key pair, new tokens valid 24 h) and returns it.</summary>
    public static PreparedConfig Prepare(string dir)
    {
        dir = Path.GetFullPath(dir);
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "keys"));
        System.IO.Directory.CreateDirectory(Path.Combine(dir, "h2load"));

        using var rsa = RSA.Create(2048);
        var signer = new TokenSigner(rsa, KeyId);
        File.WriteAllText(Path.Combine(dir, "keys", "load.json"), signer.PublicJwks());
        File.WriteAllText(Path.Combine(dir, "load-private.pem"), rsa.ExportRSAPrivateKeyPem());
        File.WriteAllText(Path.Combine(dir, "auth.yaml"), AuthYaml);
        File.WriteAllText(Path.Combine(dir, "ratelimit.yaml"), RateLimitYaml);
        File.WriteAllText(Path.Combine(dir, "service.yaml"), ServiceYaml);

        var now = DateTimeOffset.UtcNow;
        var expires = now.AddHours(24);
        var pool = new TokenPool(
            now,
            expires,
            TokenSigner.Issuer,
            TokenSigner.Audience,
            KeyId,
            SignMany(Users, i => signer.Sign("user-" + i, now, expires)),
            SignMany(ColdTokens, i => signer.Sign("cold-" + i, now, expires)),
            SignMany(DenyTokensPerKind, i => signer.Sign("expired-" + i, now.AddHours(-2), now.AddHours(-1))),
            SignMany(DenyTokensPerKind, i => signer.Sign("stranger-" + i, now, expires, audience: "billing-api")),
            BadSignatures(SignMany(DenyTokensPerKind, i => signer.Sign("forged-" + i, now, expires))));
        File.WriteAllText(Path.Combine(dir, "tokens.json"), JsonSerializer.Serialize(pool, LoadJsonContext.Default.TokenPool));

        var config = new PreparedConfig(dir, pool);
        H2LoadFiles.Write(config);
        return config;
    }

    /// <summary>Reads a directory written by <see cref="Prepare"/>.</summary>
    /// <exception cref="InvalidOperationException">The directory has no token pool, or its tokens have expired.</exception>
    public static PreparedConfig Load(string dir)
    {
        dir = Path.GetFullPath(dir);
        var file = Path.Combine(dir, "tokens.json");
        if (!File.Exists(file))
        {
            throw new InvalidOperationException($"{file} not found: run 'sidecars-load prepare --out {dir}' first");
        }

        var pool = JsonSerializer.Deserialize(File.ReadAllText(file), LoadJsonContext.Default.TokenPool)
            ?? throw new InvalidOperationException($"{file} is empty");
        if (pool.ExpiresAt < DateTimeOffset.UtcNow.AddMinutes(10))
        {
            throw new InvalidOperationException($"{file}: the tokens expire at {pool.ExpiresAt:u}; prepare again");
        }

        return new PreparedConfig(dir, pool);
    }

    private static List<string> SignMany(int count, Func<int, string> sign)
    {
        var tokens = new string[count];
        Parallel.For(0, count, i => tokens[i] = sign(i));
        return [.. tokens];
    }

    /// <summary>A valid token with one signature byte changed: parses, names the right key, fails verification.</summary>
    private static List<string> BadSignatures(List<string> tokens) =>
        [.. tokens.Select(t => t[..^2] + (t[^2] == 'A' ? 'B' : 'A') + t[^1])];

    private const string AuthYaml = """
        # Written by sidecars-load prepare: one provider with a local key, every path requiring it.
        providers:
          - name: load
            issuer: https://idp.load.test/
            audiences: [orders-api]
            local_jwks: { file: keys/load.json }
            forward: false
            claim_to_headers: [{ claim: sub, header: x-user-id }]
        routes:
          - name: orders
            match: { path_prefix: / }
            requires: { provider: load }
        """;

    // check+limit: authentication, five rules and a per-user bucket in one Check (issue 9); the limit is never reached.
    private const string ServiceYaml = """
        # Written by sidecars-load prepare: a service file whose route does all of it inside one Check.
        service: load-orders
        owns: [{ host: limited.example.com }]
        routes:
          - name: read
            match: { path_prefix: /orders, methods: [GET] }
            requires: { provider: load }
            rules:
              - claim: { name: sub, prefix: user- }
              - header: { name: accept, prefix: application/ }
              - method: [GET, HEAD]
              - source_ip: [10.0.0.0/8]
              - not: { header: { name: x-debug, exists: true } }
            rate_limits:
              - { name: per-user, per: [claim:sub], unit: second, requests_per_unit: 100000000 }
        """;

    // Limits far above any rate a run offers: every answer is OK, and the store still does its full work.
    private const string RateLimitYaml = """
        # Written by sidecars-load prepare: a descriptor per user, per path and per client address.
        domain: load
        descriptors:
          - key: user_id
            rate_limit: { unit: second, requests_per_unit: 100000000 }
          - key: path
            rate_limit: { unit: second, requests_per_unit: 100000000 }
          - key: remote_address
            rate_limit: { unit: second, requests_per_unit: 100000000 }
        """;
}
