using System.Net;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Sidecars.Authorization.Services;

/// <summary>What a rule reads: the request, its normalised path, and the claims of the identity that authenticated it (a token or an API key), if any.</summary>
public readonly struct RuleInput(IRequestView request, ReadOnlyMemory<char> path, JsonElement claims)
{
    public IRequestView Request { get; } = request;

    /// <summary>The normalised path without its query string, as routes match it.</summary>
    public ReadOnlyMemory<char> Path { get; } = path;

    /// <summary>The authenticated claims; <see cref="JsonValueKind.Undefined"/> when the route authenticated nobody.</summary>
    public JsonElement Claims { get; } = claims;
}

/// <summary>
/// An authorization rule of a service route, compiled once per snapshot: it holds or it does not. Pure and
/// allocation-free on strings (a <c>source_ip</c> rule parses the address once per call). <see cref="Text"/>
/// describes it for a deny reason and for <c>sidecars explain</c>, built at compile time.
/// </summary>
public abstract class Rule(string text)
{
    /// <summary>How the rule reads in a reason: <c>claim 'tenant' in [acme, globex]</c>.</summary>
    public string Text { get; } = text;

    public abstract bool Holds(in RuleInput input);

    public override string ToString() => Text;
}

/// <summary>How a claim, header or context value is compared.</summary>
public enum ValueOperator
{
    Equals,
    In,
    Prefix,
    Regex,

    /// <summary>An array claim holds the value (or a space-separated string claim, as <c>scope</c>, holds it as a word).</summary>
    Contains,
    Exists,
}

/// <summary>One comparison of a text value; <see cref="ValueOperator.Exists"/> with <see cref="Expected"/> false holds when the value is absent.</summary>
public sealed class ValueTest(ValueOperator op, IReadOnlyList<string> values, Regex? regex = null, bool expected = true)
{
    public ValueOperator Operator { get; } = op;

    public IReadOnlyList<string> Values { get; } = values;

    public Regex? Pattern { get; } = regex;

    public bool Expected { get; } = expected;

    /// <summary>The test of a present text value (Exists is decided by the caller).</summary>
    public bool Matches(ReadOnlySpan<char> value)
    {
        switch (Operator)
        {
            case ValueOperator.Equals:
            case ValueOperator.In:
                for (var i = 0; i < Values.Count; i++)
                {
                    if (value.SequenceEqual(Values[i]))
                    {
                        return true;
                    }
                }

                return false;
            case ValueOperator.Prefix:
                return value.StartsWith(Values[0], StringComparison.Ordinal);
            case ValueOperator.Regex:
                return Pattern!.IsMatch(value);
            case ValueOperator.Contains:
                foreach (var range in value.Split(' '))
                {
                    if (value[range].SequenceEqual(Values[0]))
                    {
                        return true;
                    }
                }

                return false;
            default:
                return Expected;
        }
    }
}

/// <summary><c>claim: {name, op}</c>: a top-level claim of the authenticated identity; no identity, no claim.</summary>
public sealed class ClaimRule(string name, ValueTest test, string text) : Rule(text)
{
    public string Name { get; } = name;

    public ValueTest Test { get; } = test;

    public override bool Holds(in RuleInput input)
    {
        var value = default(JsonElement);
        var present = input.Claims.ValueKind == JsonValueKind.Object && input.Claims.TryGetProperty(Name, out value) && value.ValueKind != JsonValueKind.Null;
        if (Test.Operator == ValueOperator.Exists)
        {
            return present == Test.Expected;
        }

        if (!present)
        {
            return false;
        }

        switch (value.ValueKind)
        {
            case JsonValueKind.String:
                return Test.Operator == ValueOperator.Regex || Test.Operator == ValueOperator.Contains || Test.Operator == ValueOperator.Prefix
                    ? Test.Matches(ClaimText.Of(value))
                    : EqualsAny(value, Test.Values);
            case JsonValueKind.Array when Test.Operator == ValueOperator.Contains:
                foreach (var item in value.EnumerateArray())
                {
                    if (item.ValueKind == JsonValueKind.String && item.ValueEquals(Test.Values[0]))
                    {
                        return true;
                    }
                }

                return false;
            case JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False when Test.Operator is ValueOperator.Equals or ValueOperator.In:
                // A number or boolean claim compares as it is written in the token: 42, true.
                var raw = ClaimText.Of(value);
                return Test.Matches(raw);
            default:
                return false;
        }
    }

    private static bool EqualsAny(JsonElement value, IReadOnlyList<string> values)
    {
        for (var i = 0; i < values.Count; i++)
        {
            if (value.ValueEquals(values[i]))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary><c>header: {name, op}</c>: a request header by lower-case name.</summary>
public sealed class HeaderRule(string name, ValueTest test, string text) : Rule(text)
{
    public string Name { get; } = name;

    public ValueTest Test { get; } = test;

    public override bool Holds(in RuleInput input)
    {
        var present = input.Request.TryHeader(Name, out var value);
        return Test.Operator == ValueOperator.Exists ? present == Test.Expected : present && Test.Matches(value);
    }
}

/// <summary><c>context: {key, equals | in}</c>: one of Envoy's per-route <c>context_extensions</c>.</summary>
public sealed class ContextRule(string key, ValueTest test, string text) : Rule(text)
{
    public string Key { get; } = key;

    public ValueTest Test { get; } = test;

    public override bool Holds(in RuleInput input) => input.Request.TryContextExtension(Key, out var value) && Test.Matches(value);
}

/// <summary><c>method: [..]</c>, any letter case.</summary>
public sealed class MethodRule(IReadOnlyList<string> methods, string text) : Rule(text)
{
    public IReadOnlyList<string> Methods { get; } = methods;

    public override bool Holds(in RuleInput input)
    {
        var method = input.Request.Method;
        for (var i = 0; i < Methods.Count; i++)
        {
            if (Methods[i].Equals(method, StringComparison.OrdinalIgnoreCase))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary><c>path: {prefix | regex}</c> on the normalised path, as routes match it.</summary>
public sealed class PathRule(string? prefix, Regex? regex, string text) : Rule(text)
{
    public override bool Holds(in RuleInput input) =>
        prefix is not null ? input.Path.Span.StartsWith(prefix, StringComparison.Ordinal) : regex!.IsMatch(input.Path.Span);
}

/// <summary>
/// <c>source_ip: [CIDR, ...]</c>: the downstream address Envoy reports in <c>source.address</c>, IPv4 or IPv6 (an
/// IPv4-mapped IPv6 address counts as IPv4). An IPv4 address is read and matched as a number, without an object;
/// an IPv6 one through <see cref="IPAddress"/>.
/// </summary>
public sealed class SourceIpRule : Rule
{
    private readonly (uint Network, uint Mask)[] _v4;
    private readonly IPNetwork[] _v6;

    public SourceIpRule(IReadOnlyList<IPNetwork> networks, string text)
        : base(text)
    {
        Networks = networks;
        _v4 = [.. networks.Where(n => n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).Select(n => (ToUInt32(n.BaseAddress), Mask(n.PrefixLength)))];
        _v6 = [.. networks.Where(n => n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)];
    }

    public IReadOnlyList<IPNetwork> Networks { get; }

    public override bool Holds(in RuleInput input)
    {
        if (!input.Request.TrySourceAddress(out var text))
        {
            return false;
        }

        if (TryParseIPv4(text, out var v4))
        {
            return MatchesV4(v4);
        }

        if (!IPAddress.TryParse(text, out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return MatchesV4(ToUInt32(address.MapToIPv4()));
        }

        foreach (var network in _v6)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private bool MatchesV4(uint address)
    {
        foreach (var (network, mask) in _v4)
        {
            if ((address & mask) == network)
            {
                return true;
            }
        }

        return false;
    }

    private static uint Mask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);

    private static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    /// <summary>Dotted-quad decimal only (<c>10.1.2.3</c>), each part 0–255 without a leading zero: anything else goes to <see cref="IPAddress.TryParse(ReadOnlySpan{char}, out IPAddress)"/>.</summary>
    internal static bool TryParseIPv4(ReadOnlySpan<char> text, out uint address)
    {
        address = 0;
        var parts = 0;
        var value = -1;
        var digits = 0;
        foreach (var c in text)
        {
            if (c == '.')
            {
                if (value < 0 || ++parts > 3)
                {
                    return false;
                }

                address = (address << 8) | (uint)value;
                value = -1;
                digits = 0;
                continue;
            }

            if (c is < '0' or > '9' || (digits == 1 && value == 0))
            {
                return false;
            }

            value = (value < 0 ? 0 : value * 10) + (c - '0');
            digits++;
            if (value > 255)
            {
                return false;
            }
        }

        if (parts != 3 || value < 0)
        {
            return false;
        }

        address = (address << 8) | (uint)value;
        return true;
    }
}

/// <summary><c>principal: [..]</c>: the mTLS peer's identity in <c>source.principal</c> (a SPIFFE id or a certificate subject), compared exactly.</summary>
public sealed class PrincipalRule(IReadOnlyList<string> principals, string text) : Rule(text)
{
    public IReadOnlyList<string> Principals { get; } = principals;

    public override bool Holds(in RuleInput input)
    {
        if (!input.Request.TryPrincipal(out var principal) || principal.IsEmpty)
        {
            return false;
        }

        for (var i = 0; i < Principals.Count; i++)
        {
            if (principal.SequenceEqual(Principals[i]))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary><c>all: [..]</c> (and a plain list of rules).</summary>
public sealed class AllRule(IReadOnlyList<Rule> rules, string text) : Rule(text)
{
    public IReadOnlyList<Rule> Rules { get; } = rules;

    public override bool Holds(in RuleInput input)
    {
        for (var i = 0; i < Rules.Count; i++)
        {
            if (!Rules[i].Holds(input))
            {
                return false;
            }
        }

        return true;
    }
}

/// <summary><c>any: [..]</c>.</summary>
public sealed class AnyRule(IReadOnlyList<Rule> rules, string text) : Rule(text)
{
    public IReadOnlyList<Rule> Rules { get; } = rules;

    public override bool Holds(in RuleInput input)
    {
        for (var i = 0; i < Rules.Count; i++)
        {
            if (Rules[i].Holds(input))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary><c>not: rule</c>.</summary>
public sealed class NotRule(Rule rule, string text) : Rule(text)
{
    public Rule Inner { get; } = rule;

    public override bool Holds(in RuleInput input) => !Inner.Holds(input);
}
