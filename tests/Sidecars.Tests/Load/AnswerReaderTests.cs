using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Envoy.Type.V3;
using Google.Protobuf;
using Google.Protobuf.WellKnownTypes;
using Sidecars.Load.Scenarios;

namespace Sidecars.Tests.Load;

/// <summary>
/// The generator reads only the decision out of an answer: for every answer here it must say what a whole parse
/// says, including merged repeats and a oneof set twice, and a malformed answer is never an allow.
/// </summary>
public sealed class AnswerReaderTests
{
    public static TheoryData<string, byte[]> CheckAnswers()
    {
        var metadata = new Struct { Fields = { ["sub"] = Value.ForString("user-1"), ["n"] = Value.ForNumber(3) } };
        var allow = new CheckResponse
        {
            Status = new Google.Rpc.Status(),
            OkResponse = new OkHttpResponse { Headers = { new HeaderValueOption { Header = new HeaderValue { Key = "x-user-id", Value = "user-1" } } } },
            DynamicMetadata = metadata,
        };
        CheckResponse Deny(int grpc, StatusCode? http) => new()
        {
            Status = new Google.Rpc.Status { Code = grpc, Message = "denied" },
            DeniedResponse = http is { } c ? new DeniedHttpResponse { Status = new HttpStatus { Code = c }, Body = "no" } : new DeniedHttpResponse(),
        };

        return new()
        {
            { "empty (the floor's allow)", new CheckResponse().ToByteArray() },
            { "allow with headers and metadata", allow.ToByteArray() },
            { "status 0 with a denied response", new CheckResponse { Status = new Google.Rpc.Status(), DeniedResponse = new DeniedHttpResponse { Status = new HttpStatus { Code = StatusCode.Forbidden } } }.ToByteArray() },
            { "401", Deny(16, StatusCode.Unauthorized).ToByteArray() },
            { "403", Deny(7, StatusCode.Forbidden).ToByteArray() },
            { "429", Deny(8, StatusCode.TooManyRequests).ToByteArray() },
            { "denied without an HTTP status", Deny(7, null).ToByteArray() },
            { "status without a denied response", new CheckResponse { Status = new Google.Rpc.Status { Code = 7 } }.ToByteArray() },
            { "a deny, then its status merged with code 0", [.. Deny(7, StatusCode.Forbidden).ToByteArray(), .. new CheckResponse { Status = new Google.Rpc.Status { Message = "m" } }.ToByteArray()] },
            { "a 401, then an ok_response (the oneof's last)", [.. Deny(16, StatusCode.Unauthorized).ToByteArray(), .. new CheckResponse { OkResponse = new OkHttpResponse() }.ToByteArray()] },
            { "a 401, then a 403", [.. Deny(16, StatusCode.Unauthorized).ToByteArray(), .. Deny(7, StatusCode.Forbidden).ToByteArray()] },
            { "a 403, then a denied response without status", [.. Deny(7, StatusCode.Forbidden).ToByteArray(), .. new CheckResponse { DeniedResponse = new DeniedHttpResponse { Body = "x" } }.ToByteArray()] },
            { "an allow, then a status code", [.. allow.ToByteArray(), .. new CheckResponse { Status = new Google.Rpc.Status { Code = 16 } }.ToByteArray()] },
        };
    }

    [Theory]
    [MemberData(nameof(CheckAnswers))]
    public void A_check_answer_reads_as_its_whole_parse(string because, byte[] answer)
    {
        var parsed = CheckResponse.Parser.ParseFrom(answer);
        var whole = parsed.Status is null || parsed.Status.Code == 0
            ? Outcome.Allow
            : (int)(parsed.DeniedResponse?.Status?.Code ?? 0) switch { 401 => Outcome.Deny401, 403 => Outcome.Deny403, _ => Outcome.DenyOther };

        Assert.True(whole == AnswerReader.Check(answer), $"{because}: whole parse {whole}, reader {AnswerReader.Check(answer)}");
    }

    [Theory]
    [InlineData(RateLimitResponse.Types.Code.Ok, Outcome.Ok)]
    [InlineData(RateLimitResponse.Types.Code.OverLimit, Outcome.OverLimit)]
    [InlineData(RateLimitResponse.Types.Code.Unknown, Outcome.Unknown)]
    public void A_rate_limit_answer_reads_its_overall_code_past_the_statuses(RateLimitResponse.Types.Code code, Outcome expected)
    {
        var answer = new RateLimitResponse
        {
            OverallCode = code,
            Statuses =
            {
                new RateLimitResponse.Types.DescriptorStatus { Code = code, LimitRemaining = 9, CurrentLimit = new RateLimitResponse.Types.RateLimit { RequestsPerUnit = 10, Unit = RateLimitResponse.Types.RateLimit.Types.Unit.Minute } },
                new RateLimitResponse.Types.DescriptorStatus { Code = RateLimitResponse.Types.Code.Ok, DurationUntilReset = new Duration { Seconds = 30 } },
            },
            ResponseHeadersToAdd = { new HeaderValue { Key = "ratelimit-limit", Value = "10" } },
        };

        Assert.Equal(expected, AnswerReader.RateLimit(answer.ToByteArray()));

        // After an earlier OVER_LIMIT: a code on the wire replaces it, UNKNOWN (0, not on the wire in proto3) keeps it.
        byte[] repeated = [.. new RateLimitResponse { OverallCode = RateLimitResponse.Types.Code.OverLimit }.ToByteArray(), .. answer.ToByteArray()];
        var whole = RateLimitResponse.Parser.ParseFrom(repeated).OverallCode;
        Assert.Equal(whole == RateLimitResponse.Types.Code.Ok ? Outcome.Ok : Outcome.OverLimit, AnswerReader.RateLimit(repeated));
    }

    [Fact]
    public void A_malformed_answer_is_unknown_never_an_allow_or_ok()
    {
        var deny = new CheckResponse { Status = new Google.Rpc.Status { Code = 7 }, DeniedResponse = new DeniedHttpResponse { Status = new HttpStatus { Code = StatusCode.Forbidden } } }.ToByteArray();
        var limited = new RateLimitResponse { OverallCode = RateLimitResponse.Types.Code.Ok, Statuses = { new RateLimitResponse.Types.DescriptorStatus() } }.ToByteArray();

        // Every truncation that cuts inside a field, and a length past the end.
        for (var cut = 1; cut < deny.Length; cut++)
        {
            Assert.NotEqual(Outcome.Allow, AnswerReader.Check(deny.AsSpan(0, cut)));
        }

        Assert.Equal(Outcome.Unknown, AnswerReader.Check([0x0A, 0x7F, 0x08, 0x00]));
        Assert.Equal(Outcome.Unknown, AnswerReader.Check([0x0B, 0x00]));          // wire type 3 (a group)
        Assert.Equal(Outcome.Unknown, AnswerReader.Check([0x08, 0x80]));          // an unfinished varint
        Assert.Equal(Outcome.Unknown, AnswerReader.RateLimit(limited.AsSpan(0, limited.Length - 1)));
        Assert.Equal(Outcome.Unknown, AnswerReader.RateLimit([0x00, 0x01]));      // field 0
    }
}
