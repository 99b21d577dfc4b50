using System.Text;

namespace Sidecars.Tests.Server;

/// <summary>One config push: the bytes written to <see cref="File"/>, or a special file put in its place.</summary>
internal sealed record ConfigPush(string Name, string File, byte[]? Bytes, string? Expected = null, string? Special = null)
{
    public override string ToString() => $"{File}: {Name}";
}

/// <summary>
/// The table of the config-push suite (issue 7, "Prove it"): for every key of both file kinds, values of the wrong
/// type, out of range, empty, huge, unknown keys beside it, non-UTF-8, deep nesting and aliases. Every entry is
/// invalid: the server must refuse it with a located error and keep serving the last good config.
/// </summary>
internal static class ConfigPushCases
{
    public const string LimitsFile = "edge.yaml";
    public const string AuthFile = "auth.yaml";

    /// <summary>A valid HMAC key set (32 zero bytes), so a provider is complete unless a case breaks it.</summary>
    public const string Jwks = "'{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"alg\":\"HS256\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}'";

    private static readonly string Huge = "\"" + new string('x', 100_000) + "\"";
    private static readonly string Deep = new string('[', 100_000);
    private static readonly string TenMegabytes = new string('x', 10 * 1024 * 1024);

    /// <summary>Values no key accepts.</summary>
    private static readonly (string Name, string Yaml)[] AnyKey =
    [
        ("deep nesting", Deep),
        ("huge string", Huge),
        ("undefined alias", "*nope"),
        ("NUL escape", "\"a\\0b\""),
    ];

    private static readonly (string Name, string Yaml)[] NotAString = [("mapping", "{ a: 1 }"), ("list", "[a, b]")];
    private static readonly (string Name, string Yaml)[] NotANumber = [("negative", "-1"), ("fraction", "1.5"), ("over 2^32", "99999999999999999999"), ("word", "lots"), ("mapping", "{ a: 1 }")];
    private static readonly (string Name, string Yaml)[] NotABool = [("word", "maybe"), ("number", "2"), ("list", "[true]")];
    private static readonly (string Name, string Yaml)[] NotAList = [("scalar", "x"), ("mapping", "{ a: 1 }"), ("list of scalars", "[1, 2]")];
    private static readonly (string Name, string Yaml)[] NotAStringList = [("scalar", "x"), ("mapping", "{ a: 1 }"), ("empty entry", "[\"\"]"), ("mapping entry", "[{ a: 1 }]")];
    private static readonly (string Name, string Yaml)[] NotADuration = [("overflow", "999999999999999h"), ("negative", "-1s"), ("no unit", "60"), ("unknown unit", "1y"), ("NaN", "NaNs"), ("list", "[1s]")];

    public static string Limits(uint rpu) => $$"""
        domain: edge
        descriptors:
          - key: user
            rate_limit: { unit: minute, requests_per_unit: {{rpu}} }
        """;

    /// <summary>The good authorization file: <c>/deny</c> is denied, <c>/allow</c> allowed, a provider <c>p</c> for <c>/jwt</c>.</summary>
    public static string Auth(string providerExtra = "", string routeExtra = "", string root = "") => $$"""
        providers:
          - name: p
            local_jwks: { inline: {{Jwks}} }
        {{providerExtra}}
        routes:
          - match: { path: /deny }
            requires: deny
          - match: { path: /allow }
            requires: allow
          - match: { path: /jwt }
            requires: { provider: p }
        {{routeExtra}}
        {{root}}
        """;

    private static ConfigPush Text(string name, string file, string yaml, string? expected = null) => new(name, file, Encoding.UTF8.GetBytes(yaml), expected);

    /// <summary>A rate-limit file whose one descriptor (or limit) carries <paramref name="line"/>.</summary>
    private static string Descriptor(string line) => $"domain: edge\ndescriptors:\n  - key: user\n    rate_limit: {{ unit: minute, requests_per_unit: 5 }}\n  - key: other\n    {line}\n";

    private static string Limit(string line) => $"domain: edge\ndescriptors:\n  - key: user\n    rate_limit:\n      unit: minute\n      requests_per_unit: 5\n      {line}\n";

    private static string Provider(string line, bool keepKeys = true) =>
        $"providers:\n  - name: p\n{(keepKeys ? $"    local_jwks: {{ inline: {Jwks} }}\n" : string.Empty)}    {line}\nroutes:\n  - match: {{ path: /deny }}\n    requires: deny\n";

    private static string Route(string line) => $"providers:\n  - name: p\n    local_jwks: {{ inline: {Jwks} }}\nroutes:\n  - match: {{ path: /deny }}\n    requires: deny\n  - {line}\n";

    private static IEnumerable<ConfigPush> Each(string file, string key, IEnumerable<(string Name, string Yaml)> values, Func<string, string> place) =>
        values.Select(v => Text($"{key}: {v.Name}", file, place($"{key}: {v.Yaml}")));

    public static IEnumerable<ConfigPush> All()
    {
        var rl = LimitsFile;
        var az = AuthFile;

        // Rate-limit files: the root.
        foreach (var c in Each(rl, "domain", [.. NotAString, ("empty", "\"\""), .. AnyKey], l => $"{l}\ndescriptors: []\n"))
        {
            yield return c;
        }

        foreach (var key in (string[])["on_backend_error", "hash_tag"])
        {
            foreach (var c in Each(rl, key, [.. NotAString, ("unknown word", "sometimes"), .. AnyKey], l => Limits(5) + "\n" + l + "\n"))
            {
                yield return c;
            }
        }

        foreach (var c in Each(rl, "descriptors", [.. NotAList, ("self alias", "&r [{key: k, descriptors: *r}]"), .. AnyKey], l => "domain: edge\n" + l + "\n"))
        {
            yield return c;
        }

        yield return Text("unknown root key", rl, Limits(5) + "\nrate_limt: 1\n", "unknown key 'rate_limt'");
        yield return Text("domain and routes in one file", rl, Limits(5) + "\nroutes: []\n", "not both");

        // Descriptors.
        foreach (var c in Each(rl, "key", [.. NotAString, ("empty", "\"\""), .. AnyKey], l => $"domain: edge\ndescriptors:\n  - {l}\n"))
        {
            yield return c;
        }

        foreach (var c in Each(rl, "value", [.. NotAString, .. AnyKey], Descriptor))
        {
            yield return c;
        }

        foreach (var c in Each(rl, "rate_limit", [("scalar", "x"), ("list", "[1]"), ("unknown key", "{ unit: second, requests_per_unit: 1, per: 2 }"), .. AnyKey], Descriptor))
        {
            yield return c;
        }

        foreach (var c in Each(rl, "rate_limits", [.. NotAList, ("two per second", "[{unit: second, requests_per_unit: 1}, {unit: second, requests_per_unit: 2}]"), ("unlimited inside", "[{unlimited: true}]"), .. AnyKey], Descriptor))
        {
            yield return c;
        }

        foreach (var key in (string[])["shadow_mode", "detailed_metric"])
        {
            foreach (var c in Each(rl, key, [.. NotABool, .. AnyKey], Descriptor))
            {
                yield return c;
            }
        }

        foreach (var c in Each(rl, "descriptors", [.. NotAList, ("self alias", "&r [{key: k, descriptors: *r}]"), .. AnyKey], Descriptor))
        {
            yield return c;
        }

        yield return Text("unknown descriptor key", rl, Descriptor("rate_limt: { unit: second }"), "unknown key 'rate_limt'");
        yield return Text("duplicate descriptor", rl, Descriptor("rate_limit: { unit: minute, requests_per_unit: 1 }").Replace("key: other", "key: user", StringComparison.Ordinal), "duplicate descriptor composite key");

        // Limits.
        foreach (var c in Each(rl, "unit", [.. NotAString, ("fortnight", "fortnight"), ("empty", "\"\""), .. AnyKey], l => $"domain: edge\ndescriptors:\n  - key: user\n    rate_limit:\n      requests_per_unit: 5\n      {l}\n"))
        {
            yield return c;
        }

        foreach (var c in Each(rl, "requests_per_unit", [.. NotANumber, .. AnyKey], l => $"domain: edge\ndescriptors:\n  - key: user\n    rate_limit:\n      unit: minute\n      {l}\n"))
        {
            yield return c;
        }

        foreach (var c in Each(rl, "burst", [.. NotANumber, ("zero", "0"), .. AnyKey], Limit))
        {
            yield return c;
        }

        foreach (var c in Each(rl, "unlimited", [.. NotABool, ("with a unit", "true"), .. AnyKey], Limit))
        {
            yield return c;
        }

        foreach (var c in Each(rl, "algorithm", [.. NotAString, ("leaky_bucket", "leaky_bucket"), .. AnyKey], Limit))
        {
            yield return c;
        }

        yield return Text("algorithm: burst with fixed_window", rl, Limit("algorithm: fixed_window\n      burst: 3"), "'burst' applies only to algorithm token_bucket");
        foreach (var c in Each(rl, "name", [.. NotAString, .. AnyKey], Limit))
        {
            yield return c;
        }

        foreach (var c in Each(rl, "replaces", [.. NotAList, ("empty name", "[{name: \"\"}]"), ("unknown key", "[{name: a, b: c}]"), ("itself", "[{name: me}]"), .. AnyKey], l => Limit($"name: me\n      {l}")))
        {
            yield return c;
        }

        yield return Text("unknown limit key", rl, Limit("per: 1"), "unknown key 'per'");

        // Authorization files: providers.
        foreach (var c in Each(az, "providers", [.. NotAList, .. AnyKey], l => l + "\n"))
        {
            yield return c;
        }

        foreach (var c in Each(az, "name", [.. NotAString, ("empty", "\"\""), .. AnyKey], l => $"providers:\n  - local_jwks: {{ inline: {Jwks} }}\n    {l}\n"))
        {
            yield return c;
        }

        yield return Text("name: duplicate provider", az, Provider($"local_jwks: {{ inline: {Jwks} }}\n  - name: p\n    local_jwks: {{ inline: {Jwks} }}", keepKeys: false), "provider 'p' is already defined");
        foreach (var key in (string[])["issuer", "typ"])
        {
            foreach (var c in Each(az, key, [.. NotAString, .. AnyKey], l => Provider(l)))
            {
                yield return c;
            }
        }

        foreach (var key in (string[])["audiences", "from_params", "from_cookies"])
        {
            foreach (var c in Each(az, key, [.. NotAStringList, .. AnyKey], l => Provider(l)))
            {
                yield return c;
            }
        }

        foreach (var c in Each(az, "remote_jwks", [("scalar", "x"), ("ftp uri", "{ uri: ftp://idp.example.com/jwks }"), ("no uri", "{ cache_duration: 5m }"), ("unknown key", "{ uri: https://idp.example.com/jwks, refresh: 1m }"), .. NotADuration.Select(d => ($"cache_duration {d.Name}", $"{{ uri: https://idp.example.com/jwks, cache_duration: {d.Yaml} }}")), ("cache_duration 0s", "{ uri: https://idp.example.com/jwks, cache_duration: 0s }"), .. AnyKey], l => Provider(l, keepKeys: false)))
        {
            yield return c;
        }

        yield return Text("remote_jwks: with local_jwks", az, Provider("remote_jwks: { uri: https://idp.example.com/jwks }"), "exactly one of");
        foreach (var c in Each(az, "discovery", [.. NotAString, ("not a URI", "not-a-uri"), ("file URI", "file:///etc/passwd"), .. AnyKey], l => Provider(l, keepKeys: false)))
        {
            yield return c;
        }

        foreach (var c in Each(az, "local_jwks",
            [
                ("scalar", "x"),
                ("neither file nor inline", "{}"),
                ("both", "{ file: a.json, inline: '{}' }"),
                ("unknown key", $"{{ inline: {Jwks}, url: x }}"),
                ("keys of numbers", "{ inline: '{\"keys\":[1]}' }"),
                ("lone surrogate kid", "{ inline: '{\"keys\":[{\"kty\":\"oct\",\"kid\":\"\\ud800\",\"k\":\"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\"}]}' }"),
                ("RSA with empty e", "{ inline: '{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r\",\"e\":\"\",\"n\":\"" + new string('A', 344) + "\"}]}' }"),
                ("short HMAC key", "{ inline: '{\"keys\":[{\"kty\":\"oct\",\"kid\":\"k\",\"k\":\"AAAA\"}]}' }"),
                ("truncated JSON", "{ inline: '{\"keys\": [' }"),
                ("JSON over lines", "{ inline: \"{\\n\\n  \\\"keys\\\": [}\" }"),
                ("deep JSON", "{ inline: '" + new string('[', 1000) + "' }"),
                ("not an object", "{ inline: '[]' }"),
                ("absolute file", "{ file: /etc/passwd }"),
                ("file outside", "{ file: ../../../../etc/passwd }"),
                ("missing file", "{ file: nope.json }"),
                ("dev zero", "{ file: /dev/zero }"),
                .. AnyKey,
            ],
            l => Provider(l, keepKeys: false)))
        {
            yield return c;
        }

        foreach (var c in Each(az, "from_headers", [.. NotAList, ("no name", "[{ value_prefix: x }]"), ("space in name", "[{ name: \"x y\" }]"), ("CRLF in name", "[{ name: \"x\\r\\ny: z\" }]"), ("unknown key", "[{ name: x, prefix: y }]"), .. AnyKey], l => Provider(l)))
        {
            yield return c;
        }

        foreach (var c in Each(az, "claim_to_headers", [.. NotAList, ("no header", "[{ claim: sub }]"), ("bad header", "[{ claim: sub, header: \"x:y\" }]"), ("unknown key", "[{ claim: sub, header: x, as: y }]"), .. AnyKey], l => Provider(l)))
        {
            yield return c;
        }

        foreach (var c in Each(az, "forward_payload_header", [.. NotAString, ("space", "\"x y\""), .. AnyKey], l => Provider(l)))
        {
            yield return c;
        }

        foreach (var key in (string[])["forward", "require_expiration"])
        {
            foreach (var c in Each(az, key, [.. NotABool, .. AnyKey], l => Provider(l)))
            {
                yield return c;
            }
        }

        foreach (var c in Each(az, "clock_skew", [.. NotADuration, ("over a day", "25h"), .. AnyKey], l => Provider(l)))
        {
            yield return c;
        }

        foreach (var c in Each(az, "max_lifetime", [.. NotADuration, ("zero", "0s"), .. AnyKey], l => Provider(l)))
        {
            yield return c;
        }

        foreach (var c in Each(az, "max_token_size", [.. NotANumber, ("zero", "0"), ("over 1 MiB", "1048577"), .. AnyKey], l => Provider(l)))
        {
            yield return c;
        }

        yield return Text("unknown provider key", az, Provider("issuer_url: x"), "unknown key 'issuer_url'");

        // Routes.
        foreach (var c in Each(az, "routes", [.. NotAList, .. AnyKey], l => l + "\n"))
        {
            yield return c;
        }

        foreach (var c in Each(az, "name", [.. NotAString, .. AnyKey], l => Route($"{l}\n    match: {{ path: /n }}\n    requires: allow")))
        {
            yield return c;
        }

        foreach (var c in Each(az, "match", [("scalar", "x"), ("list", "[1]"), ("unknown key", "{ url: /x }"), ("path and prefix", "{ path: /a, path_prefix: /b }"), .. AnyKey], l => Route($"{l}\n    requires: allow")))
        {
            yield return c;
        }

        yield return Text("route without match", az, Route("requires: allow"), "a route needs 'match'");
        yield return Text("route without requires", az, Route("match: { path: /r }"), "a route needs 'requires'");
        foreach (var key in (string[])["host", "path", "path_prefix"])
        {
            foreach (var c in Each(az, key, [.. NotAString, .. AnyKey], l => Route($"match: {{ {l} }}\n    requires: allow")))
            {
                yield return c;
            }
        }

        foreach (var c in Each(az, "path_regex",
            [
                .. NotAString,
                ("lookahead", "\"(?=a)a\""),
                ("backreference", "\"(a)\\\\1\""),
                ("atomic group", "\"(?>a)\""),
                ("unterminated bracket", "\"[a\""),
                ("too long", "\"" + new string('a', 2000) + "\""),
                .. AnyKey,
            ],
            l => Route($"match: {{ {l} }}\n    requires: allow")))
        {
            yield return c;
        }

        foreach (var c in Each(az, "methods", [.. NotAStringList, ("space in method", "[\"GET POST\"]"), .. AnyKey], l => Route($"match: {{ {l} }}\n    requires: allow")))
        {
            yield return c;
        }

        foreach (var c in Each(az, "headers", [.. NotAList, ("no name", "[{ value: x }]"), ("space in name", "[{ name: \"a b\" }]"), ("unknown key", "[{ name: a, regex: b }]"), .. AnyKey], l => Route($"match: {{ {l} }}\n    requires: allow")))
        {
            yield return c;
        }

        var nestedAny = new StringBuilder();
        for (var i = 0; i < 100; i++)
        {
            nestedAny.Append("{ any: [");
        }

        nestedAny.Append("{ provider: p }").Append(string.Concat(Enumerable.Repeat("] }", 100)));
        foreach (var c in Each(az, "requires",
            [
                ("word", "maybe"),
                ("list", "[allow]"),
                ("unknown provider", "{ provider: ghost }"),
                ("empty mapping", "{}"),
                ("provider and any", "{ provider: p, any: [{ provider: p }] }"),
                ("empty any", "{ any: [] }"),
                ("any of a scalar", "{ any: x }"),
                ("all of garbage", "{ all: [maybe] }"),
                ("scopes not a list", "{ provider: p, scopes: x }"),
                ("claims not a mapping", "{ provider: p, claims: x }"),
                ("claim without value", "{ provider: p, claims: { tier: {} } }"),
                ("claim with a list key", "{ provider: p, claims: { [a]: b } }"),
                ("audiences not a list", "{ provider: p, audiences: x }"),
                ("allow_missing not a bool", "{ provider: p, allow_missing: maybe }"),
                ("unknown key", "{ provider: p, scope: x }"),
                ("100 nested any", nestedAny.ToString()),
                .. AnyKey,
            ],
            l => Route($"match: {{ path: /q }}\n    {l}")))
        {
            yield return c;
        }

        foreach (var c in Each(az, "default", [.. NotAString, ("word", "maybe"), .. AnyKey], l => Auth(root: l)))
        {
            yield return c;
        }

        yield return Text("default set twice", az, Auth(root: "default: allow\ndefault: deny"));
        yield return Text("unknown root key", az, Auth(root: "defaults: allow"), "unknown key 'defaults'");

        // Both kinds: the file itself.
        foreach (var file in (string[])[rl, az])
        {
            yield return new(" invalid UTF-8", file, [.. Encoding.UTF8.GetBytes("domain: edge\n# caf"), 0xC3, 0x28, .. Encoding.UTF8.GetBytes("\n")], "invalid UTF-8");
            yield return new("UTF-8 overlong encoding", file, [.. Encoding.UTF8.GetBytes("domain: "), 0xC0, 0xAF, .. Encoding.UTF8.GetBytes("\n")], "invalid UTF-8");
            yield return new("a NUL byte", file, [.. Encoding.UTF8.GetBytes("domain: ed"), 0, .. Encoding.UTF8.GetBytes("ge\n")], "a NUL byte is not allowed");
            yield return new("UTF-16", file, [0xFF, 0xFE, .. Encoding.Unicode.GetBytes("domain: edge\n")], "file is UTF-16");
            yield return Text("10 MB string", file, "domain: " + TenMegabytes + "\n", "is larger than 1048576 bytes");
            yield return Text("100,000 nested brackets", file, "routes: " + Deep + "\n", "nesting is deeper than 64 levels");
            yield return Text("self alias", file, "x: &r [*r]\n", "is used inside its own anchor");
            yield return Text("lone surrogate escape", file, "domain: \"\\ud800\"\n", "invalid Unicode surrogates");
            yield return Text("invalid YAML", file, "domain: [edge\n", "invalid YAML");
            yield return Text("two documents", file, Limits(5) + "\n---\n" + Limits(6) + "\n", "one YAML document");
            yield return Text("not a mapping", file, "- edge\n", "must be a mapping");
            yield return Text("empty", file, "\n# nothing\n", "config file is empty");
            yield return new("FIFO", file, null, "not a regular file", Special: "fifo");
            yield return new("symlink to /dev/zero", file, null, "not a regular file", Special: "/dev/zero");
            yield return new("dangling symlink", file, null, "symbolic link to nothing", Special: "dangling");
        }
    }

    /// <summary>An alias bomb inside <c>descriptors</c>: under 1 KB of text, 10^7 descriptors once expanded.</summary>
    public static ConfigPush AliasBomb()
    {
        var yaml = new StringBuilder("domain: edge\ndescriptors:\n  - &d0 {key: k, rate_limit: {unit: second, requests_per_unit: 1}}\n");
        for (var level = 1; level <= 7; level++)
        {
            yaml.Append($"  - &d{level} {{key: k{level}, descriptors: [{string.Join(", ", Enumerable.Repeat($"*d{level - 1}", 10))}]}}\n");
        }

        return Text("alias bomb", LimitsFile, yaml.ToString(), "YAML nodes once aliases are expanded");
    }
}
