using System.Text;

namespace Sidecars.Tests.Server;

/// <summary>The authorization-file half of the config-push table: providers, routes, requirements, default.</summary>
internal static partial class ConfigPushCases
{
    private static IEnumerable<ConfigPush> AuthCases()
    {
        var az = AuthFile;
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
    }
}
