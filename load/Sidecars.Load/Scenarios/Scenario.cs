using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Sidecars.Load.Generator;

namespace Sidecars.Load.Scenarios;

/// <summary>What a server answered, as the scenario judges it.</summary>
public enum Outcome
{
    Allow,
    Deny401,
    Deny403,
    DenyOther,
    Ok,
    OverLimit,
    Unknown,
}

/// <summary>
/// One scenario: the request of call number <c>index</c> and the answer it expects. Requests are built once (at
/// construction) and reused, so a call allocates only what its transport does.
/// </summary>
public abstract class Scenario(string name)
{
    public string Name { get; } = name;

    /// <summary>Sends call number <paramref name="index"/> on <paramref name="connection"/> and reads its decision.</summary>
    public abstract Task<Outcome> CallAsync(Connection connection, long index);

    /// <summary>The sidecar's decision for call <paramref name="index"/>.</summary>
    public abstract Outcome Expected(long index);

    /// <summary>The no-op floor allows every Check and answers OK to every ShouldRateLimit.</summary>
    public abstract Outcome ExpectedFromFloor(long index);

    public static string Label(Outcome outcome) => outcome switch
    {
        Outcome.Allow => "allow",
        Outcome.Deny401 => "deny_401",
        Outcome.Deny403 => "deny_403",
        Outcome.DenyOther => "deny_other",
        Outcome.Ok => "ok",
        Outcome.OverLimit => "over_limit",
        _ => "unknown",
    };
}

/// <summary>Check with one request per slot of a pool, round robin.</summary>
/// <remarks>
/// Requests are kept encoded and sent as bytes: 10,000 prebuilt messages with their header maps were a graph
/// of ~200,000 objects that every collection of the generator marked, and its pauses stalled its own schedule.
/// </remarks>
internal sealed class CheckScenario(string name, CheckRequest[] requests, Outcome[] expected) : Scenario(name)
{
    private readonly byte[][] _encoded = Connection.Encode(requests);

    public override async Task<Outcome> CallAsync(Connection connection, long index) =>
        AnswerReader.Check(await connection.CallAsync(Connection.RawCheck, _encoded[index % _encoded.Length]).ConfigureAwait(false));

    public override Outcome Expected(long index) => expected[index % expected.Length];

    public override Outcome ExpectedFromFloor(long index) => Outcome.Allow;

    internal CheckRequest Request(long index) => CheckRequest.Parser.ParseFrom(_encoded[index % _encoded.Length]);
}

/// <summary>ShouldRateLimit, one request per user, round robin, sent as its encoded bytes.</summary>
internal sealed class RateLimitScenario(string name, RateLimitRequest[] requests) : Scenario(name)
{
    private readonly byte[][] _encoded = Connection.Encode(requests);

    public override async Task<Outcome> CallAsync(Connection connection, long index) =>
        AnswerReader.RateLimit(await connection.CallAsync(Connection.RawShouldRateLimit, _encoded[index % _encoded.Length]).ConfigureAwait(false));

    public override Outcome Expected(long index) => Outcome.Ok;

    public override Outcome ExpectedFromFloor(long index) => Outcome.Ok;

    internal RateLimitRequest Request(long index) => RateLimitRequest.Parser.ParseFrom(_encoded[index % _encoded.Length]);
}

/// <summary>Envoy with both filters: of every 10 calls, 6 check-cached, 1 check-deny, 3 rls-memory-1, interleaved.</summary>
internal sealed class MixedScenario(Scenario cached, Scenario deny, Scenario rateLimit) : Scenario("mixed")
{
    public override Task<Outcome> CallAsync(Connection connection, long index)
    {
        var (scenario, inner) = Pick(index);
        return scenario.CallAsync(connection, inner);
    }

    public override Outcome Expected(long index)
    {
        var (scenario, inner) = Pick(index);
        return scenario.Expected(inner);
    }

    public override Outcome ExpectedFromFloor(long index)
    {
        var (scenario, inner) = Pick(index);
        return scenario.ExpectedFromFloor(inner);
    }

    // Each part gets its own running index, so each still walks its whole pool.
    private (Scenario Scenario, long Index) Pick(long index)
    {
        var round = index / 10;
        return (index % 10) switch
        {
            < 6 and var slot => (cached, round * 6 + slot),
            6 => (deny, round),
            var slot => (rateLimit, round * 3 + slot - 7),
        };
    }
}
