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

    // Arrays, not the interface, where the hot path loops: an interface call per Count and per item adds up (perf).
    private readonly string[] _values = [.. values];

    public IReadOnlyList<string> Values => _values;

    public Regex? Pattern { get; } = regex;

    public bool Expected { get; } = expected;

    /// <summary>The test of a present text value (Exists is decided by the caller).</summary>
    public bool Matches(ReadOnlySpan<char> value)
    {
        switch (Operator)
        {
            case ValueOperator.Equals:
            case ValueOperator.In:
                foreach (var candidate in _values)
                {
                    if (value.SequenceEqual(candidate))
                    {
                        return true;
                    }
                }

                return false;
            case ValueOperator.Prefix:
                return value.StartsWith(_values[0], StringComparison.Ordinal);
            case ValueOperator.Regex:
                return Pattern!.IsMatch(value);
            case ValueOperator.Contains:
                foreach (var range in value.Split(' '))
                {
                    if (value[range].SequenceEqual(_values[0]))
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

/// <summary><c>all: [..]</c> (and a plain list of rules).</summary>
public sealed class AllRule(IReadOnlyList<Rule> rules, string text) : Rule(text)
{
    private readonly Rule[] _rules = [.. rules];

    public IReadOnlyList<Rule> Rules => _rules;

    public override bool Holds(in RuleInput input)
    {
        foreach (var rule in _rules)
        {
            if (!rule.Holds(input))
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
    private readonly Rule[] _rules = [.. rules];

    public IReadOnlyList<Rule> Rules => _rules;

    public override bool Holds(in RuleInput input)
    {
        foreach (var rule in _rules)
        {
            if (rule.Holds(input))
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
