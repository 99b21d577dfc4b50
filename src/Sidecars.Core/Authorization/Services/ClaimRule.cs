using System.Text.Json;

namespace Sidecars.Authorization.Services;

/// <summary><c>claim: {name, op}</c>: a top-level claim of the authenticated identity; no identity, no claim.</summary>
public sealed class ClaimRule(string name, ValueTest test, string text) : Rule(text)
{
    // The claim name and the test's values as UTF-8, compared with the token's own bytes (no transcoding per call).
    private readonly byte[] _name = System.Text.Encoding.UTF8.GetBytes(name);
    private readonly byte[] _first = test.Values.Count > 0 ? System.Text.Encoding.UTF8.GetBytes(test.Values[0]) : [];

    public string Name { get; } = name;

    public ValueTest Test { get; } = test;

    public override bool Holds(in RuleInput input)
    {
        var value = default(JsonElement);
        var present = input.Claims.ValueKind == JsonValueKind.Object && input.Claims.TryGetProperty(_name, out value) && value.ValueKind != JsonValueKind.Null;
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
            case JsonValueKind.String when Test.Operator is ValueOperator.Prefix or ValueOperator.Contains && ClaimText.TryRawUtf8(value, out var utf8):
                return Test.Operator == ValueOperator.Prefix ? utf8.StartsWith(_first) : ContainsWord(utf8, _first);
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

    /// <summary>A word of a space-separated value (<c>scope</c>), as <see cref="ValueOperator.Contains"/> reads a string.</summary>
    private static bool ContainsWord(ReadOnlySpan<byte> value, ReadOnlySpan<byte> word)
    {
        foreach (var range in value.Split((byte)' '))
        {
            if (value[range].SequenceEqual(word))
            {
                return true;
            }
        }

        return false;
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
