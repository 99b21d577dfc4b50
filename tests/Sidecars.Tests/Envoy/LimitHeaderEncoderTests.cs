using Envoy.Service.Auth.V3;
using Sidecars.Authorization;
using Sidecars.Envoy.Authorization;
using Sidecars.RateLimiting;
using Xunit;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// The RateLimit headers a charged allow carries are written by hand after the kept allow's bytes: parsed back with
/// the generated parser, they must be the message a protobuf writer would have produced, at every digit count
/// of the remaining and the reset (each changes a length prefix) and at the varint boundaries of the name.
/// </summary>
public sealed class LimitHeaderEncoderTests
{
    public static TheoryData<uint, long> Counts()
    {
        var data = new TheoryData<uint, long>();
        uint[] remaining = [0, 9, 10, 99, 100, 99_999, 100_000, 999_999_999, 1_000_000_000, uint.MaxValue];
        long[] seconds = [0, 1, 9, 10, 59, 60, 3_600, 86_400, 31_536_000, 9_000_000_000, long.MaxValue / RateLimitUnits.NanosPerSecond];
        for (var i = 0; i < Math.Max(remaining.Length, seconds.Length); i++)
        {
            data.Add(remaining[i % remaining.Length], seconds[i % seconds.Length]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Counts))]
    public void The_written_tail_parses_to_the_headers_a_writer_would_produce(uint remaining, long seconds)
    {
        var limit = new CompiledLimit(RateLimitUnit.Minute, 100, name: "per-user");
        var answer = Charged(limit, remaining, seconds);

        var headers = answer.ToMessage().OkResponse.ResponseHeadersToAdd;
        var added = headers.Select(h => (h.Header.Key, h.Header.Value)).ToList();
        Assert.Contains(("x-kept", "yes"), added);
        Assert.Contains(("ratelimit-policy", "\"per-user\";q=100;w=60"), added);
        Assert.Contains(("ratelimit", $"\"per-user\";r={remaining};t={seconds}"), added);
        Assert.Equal(answer.Length, answer.Encoded.Length);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(80)]
    [InlineData(110)]
    [InlineData(200)]
    [InlineData(20_000)]
    public void Long_names_cross_the_length_prefixes_varint_boundaries(int nameLength)
    {
        var name = new string('n', nameLength);
        var limit = new CompiledLimit(RateLimitUnit.Second, 5, name: name);
        var answer = Charged(limit, 4_294_967_295, 1);

        var value = answer.ToMessage().OkResponse.ResponseHeadersToAdd.Single(h => h.Header.Key == "ratelimit").Header.Value;
        Assert.Equal($"\"{name}\";r=4294967295;t=1", value);
    }

    [Theory]
    [InlineData(-5, 0)]
    [InlineData(0, 0)]
    [InlineData(1, 1)]
    [InlineData(999_999_999, 1)]
    [InlineData(1_000_000_000, 1)]
    [InlineData(1_000_000_001, 2)]
    [InlineData(long.MaxValue, 9_223_372_037)]
    public void Waits_are_whole_seconds_rounded_up_without_overflow(long nanos, long seconds) =>
        Assert.Equal(seconds, RateLimitUnits.WholeSecondsRoundedUp(nanos));

    private static CheckAnswer Charged(CompiledLimit limit, uint remaining, long seconds)
    {
        var kept = new CheckResponse { Status = new Google.Rpc.Status(), OkResponse = new OkHttpResponse() };
        kept.OkResponse.ResponseHeadersToAdd.Add(AllowResponses.Overwrite("x-kept", "yes"));
        return LimitHeaderEncoder.Extend(CheckAnswer.Encode(kept), new LimitReport(limit, remaining, seconds * RateLimitUnits.NanosPerSecond));
    }
}
