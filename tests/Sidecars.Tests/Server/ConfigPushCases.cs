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
internal static partial class ConfigPushCases
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

        foreach (var c in AuthCases().Concat(FileCases()))
        {
            yield return c;
        }
    }

    private static IEnumerable<ConfigPush> FileCases()
    {
        var rl = LimitsFile;
        var az = AuthFile;
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
