using Envoy.Extensions.Common.Ratelimit.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf;
using Sidecars.Envoy.RateLimiting;
using Sidecars.RateLimiting;
using Sidecars.Tests.Infrastructure;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// The encoded ShouldRateLimit answer (issue 8): byte for byte the generated serialization of the message the
/// adapter builds for the same decision, over every kind of status, and a fraction of its allocation.
/// </summary>
public sealed class RateLimitAnswerTests
{
    private const string Config = """
        domain: edge
        descriptors:
          - key: user
            rate_limit: { unit: second, requests_per_unit: 3 }
          - key: tenant
            rate_limit: { unit: minute, requests_per_unit: 2, name: per-tenant }
            shadow_mode: true
          - key: path
            rate_limit: { unit: hour, requests_per_unit: 4000000000 }
          - key: internal
            rate_limit: { unlimited: true }
          - key: day
            rate_limit: { unit: day, requests_per_unit: 5 }
        """;

    private static RateLimitRequest Request(uint hits, params (string Key, string Value)[] descriptors)
    {
        var request = new RateLimitRequest { Domain = "edge", HitsAddend = hits };
        foreach (var (key, value) in descriptors)
        {
            var descriptor = new RateLimitDescriptor();
            descriptor.Entries.Add(new RateLimitDescriptor.Types.Entry { Key = key, Value = value });
            request.Descriptors.Add(descriptor);
        }

        return request;
    }

    private static (byte[] Encoded, byte[] Generated, RateLimitAnswer Answer) Both(TestEngine engine, RateLimitServiceAdapter adapter, RateLimitRequest request)
    {
        var query = RateLimitQuery.Rent();
        try
        {
            RateLimitServiceAdapter.Map(request, query);
            Assert.True(engine.Engine.DecideAsync(query).IsCompletedSuccessfully);
            var answer = adapter.BuildAnswer(query);
            return (answer.Encoded.ToArray(), adapter.BuildResponse(query).ToByteArray(), answer);
        }
        finally
        {
            RateLimitQuery.Return(query);
        }
    }

    [Fact]
    public void Every_kind_of_status_encodes_as_the_generated_code_writes_it()
    {
        using var engine = new TestEngine(Config);
        var adapter = new RateLimitServiceAdapter(engine.Engine, new RateLimitHeadersOptions());
        RateLimitRequest[] requests =
        [
            Request(0, ("user", "alice")),
            Request(0, ("user", "alice"), ("tenant", "acme"), ("path", "/orders")),
            Request(0, ("internal", "x"), ("nobody", "matches")),
            Request(2, ("user", "alice"), ("day", "d")),
            Request(0, ("tenant", "acme"), ("tenant", "acme")),
        ];

        var kinds = new HashSet<string>();
        for (var round = 0; round < 6; round++)
        {
            foreach (var request in requests)
            {
                var (encoded, generated, answer) = Both(engine, adapter, request);
                Assert.True(answer.IsEncoded);
                Assert.Equal(Convert.ToHexString(generated), Convert.ToHexString(encoded));
                var parsed = RateLimitResponse.Parser.ParseFrom(encoded);
                Assert.Equal(parsed.OverallCode, answer.OverallCode);
                foreach (var status in parsed.Statuses)
                {
                    kinds.Add($"{status.Code}/{status.CurrentLimit is not null}/{status.LimitRemaining == uint.MaxValue}");
                }
            }

            // Odd steps, so the reset durations take seconds and nanoseconds of every size, and zero.
            engine.Time.Advance(TimeSpan.FromTicks(3_333_337 * (round + 1)));
        }

        // Over the limit, within it (with and without remaining), shadowed, no limit and unlimited all occurred.
        Assert.Contains("OverLimit/True/False", kinds);
        Assert.Contains("Ok/True/False", kinds);
        Assert.Contains("Ok/False/True", kinds);
        Assert.Contains("Ok/False/False", kinds);
    }

    [Fact]
    public void An_answer_that_adds_headers_stays_a_message()
    {
        using var engine = new TestEngine(Config);
        var adapter = new RateLimitServiceAdapter(engine.Engine, new RateLimitHeadersOptions { Enabled = true });
        var (encoded, generated, answer) = Both(engine, adapter, Request(0, ("user", "bob")));
        Assert.False(answer.IsEncoded);
        Assert.NotEmpty(answer.Message!.ResponseHeadersToAdd);
        Assert.Empty(encoded);
        Assert.NotEmpty(generated);
    }

    [Fact]
    public void Three_descriptors_encoded_allocate_a_fraction_of_the_message()
    {
        using var engine = new TestEngine(Config);
        var adapter = new RateLimitServiceAdapter(engine.Engine, new RateLimitHeadersOptions());
        var request = Request(0, ("path", "/a"), ("internal", "x"), ("path", "/b"));
        var query = RateLimitQuery.Rent();
        try
        {
            RateLimitServiceAdapter.Map(request, query);
            engine.Engine.DecideAsync(query);
            adapter.BuildAnswer(query);
            var before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                adapter.BuildAnswer(query);
            }

            var encoded = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;
            before = GC.GetAllocatedBytesForCurrentThread();
            for (var i = 0; i < 1000; i++)
            {
                adapter.BuildResponse(query);
            }

            var message = (GC.GetAllocatedBytesForCurrentThread() - before) / 1000;

            // The answer object and one array of the response's exact size: measured 128 B.
            Assert.True(encoded <= 160, $"the encoded answer allocated {encoded} B per call");
            Assert.True(encoded * 3 < message, $"encoded {encoded} B vs message {message} B per call");
        }
        finally
        {
            RateLimitQuery.Return(query);
        }
    }
}
