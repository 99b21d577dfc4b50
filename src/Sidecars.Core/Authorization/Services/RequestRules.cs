using System.Text.RegularExpressions;

namespace Sidecars.Authorization.Services;

/// <summary><c>header: {name, op}</c>: a request header by lower-case name.</summary>
public sealed class HeaderRule(string name, ValueTest test, string text) : Rule(text)
{
    public string Name { get; } = name;

    public ValueTest Test { get; } = test;

    public override bool Holds(in RuleInput input)
    {
        if (Test.Operator == ValueOperator.Exists)
        {
            // Presence only: the value is not decoded.
            return input.Request.HasHeader(Name) == Test.Expected;
        }

        return input.Request.TryHeader(Name, out var value) && Test.Matches(value);
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
    private readonly string[] _methods = [.. methods];

    public IReadOnlyList<string> Methods => _methods;

    public override bool Holds(in RuleInput input)
    {
        var method = input.Request.Method;
        foreach (var allowed in _methods)
        {
            if (allowed.Equals(method, StringComparison.OrdinalIgnoreCase))
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
