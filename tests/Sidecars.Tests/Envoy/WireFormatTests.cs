using Envoy.Service.Ratelimit.V3;
using Grpc.Health.V1;
using static Envoy.Service.Ratelimit.V3.RateLimitResponse.Types;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// Decodes hand-built protobuf bytes, so every field number of our protos is pinned to Envoy's v3 API
/// (envoyproxy/data-plane-api) and a renumbering cannot pass unnoticed.
/// </summary>
public sealed class WireFormatTests
{
    private static byte[] Bytes(string hex) => Convert.FromHexString(hex.Replace(" ", string.Empty, StringComparison.Ordinal));

    [Fact]
    public void RateLimitRequest_and_descriptor_field_numbers_match_envoy()
    {
        var bytes = Bytes(
            "0A 01 64" +                       // 1 domain = "d"
            "12 10" +                          // 2 descriptors, 16 bytes
            "  0A 06 0A 01 6B 12 01 76" +      //   1 entries { 1 key = "k", 2 value = "v" }
            "  12 04 08 05 10 06" +            //   2 limit { 1 requests_per_unit = 5, 2 unit = YEAR }
            "  1A 00" +                        //   3 hits_addend = UInt64Value{} (set, value 0)
            "18 03");                          // 3 hits_addend = 3

        var request = RateLimitRequest.Parser.ParseFrom(bytes);

        Assert.Equal("d", request.Domain);
        Assert.Equal(3u, request.HitsAddend);
        var descriptor = Assert.Single(request.Descriptors);
        var entry = Assert.Single(descriptor.Entries);
        Assert.Equal(("k", "v"), (entry.Key, entry.Value));
        Assert.Equal(5u, descriptor.Limit.RequestsPerUnit);
        Assert.Equal(global::Envoy.Type.V3.RateLimitUnit.Year, descriptor.Limit.Unit);
        Assert.Equal(0ul, descriptor.HitsAddend);
    }

    [Fact]
    public void RateLimitResponse_field_numbers_match_envoy()
    {
        var bytes = Bytes(
            "08 02" +                                  // 1 overall_code = OVER_LIMIT
            "12 1C" +                                  // 2 statuses, 28 bytes
            "  08 02" +                                //   1 code = OVER_LIMIT
            "  12 07 08 0A 10 02 1A 01 6E" +           //   2 current_limit { 1 rpu = 10, 2 unit = MINUTE, 3 name = "n" }
            "  18 04" +                                //   3 limit_remaining = 4
            "  22 02 08 01" +                          //   4 duration_until_reset { seconds = 1 }
            "  2A 09 08 01 12 02 08 01 1A 01 71" +     //   5 quota { 1 requests = 1, 2 valid_until { seconds = 1 }, 3 id = "q" }
            "1A 09 0A 01 61 12 01 62 1A 01 63" +       // 3 response_headers_to_add { 1 key, 2 value, 3 raw_value }
            "22 09 0A 01 61 12 01 62 1A 01 63" +       // 4 request_headers_to_add
            "2A 01 78" +                               // 5 raw_body = "x"
            "32 09 0A 07 0A 01 6D 12 02 20 01" +       // 6 dynamic_metadata { fields { "m": bool_value true } }
            "3A 02 08 02");                            // 7 quota { requests = 2 }

        var response = RateLimitResponse.Parser.ParseFrom(bytes);

        Assert.Equal(Code.OverLimit, response.OverallCode);
        var status = Assert.Single(response.Statuses);
        Assert.Equal(Code.OverLimit, status.Code);
        Assert.Equal(10u, status.CurrentLimit.RequestsPerUnit);
        Assert.Equal(RateLimitResponse.Types.RateLimit.Types.Unit.Minute, status.CurrentLimit.Unit);
        Assert.Equal("n", status.CurrentLimit.Name);
        Assert.Equal(4u, status.LimitRemaining);
        Assert.Equal(1, status.DurationUntilReset.Seconds);
        Assert.Equal(1u, status.Quota.Requests);
        Assert.Equal(1, status.Quota.ValidUntil.Seconds);
        Assert.Equal("q", status.Quota.Id);
        foreach (var header in new[] { Assert.Single(response.ResponseHeadersToAdd), Assert.Single(response.RequestHeadersToAdd) })
        {
            Assert.Equal(("a", "b", "c"), (header.Key, header.Value, header.RawValue.ToStringUtf8()));
        }

        Assert.Equal("x", response.RawBody.ToStringUtf8());
        Assert.True(response.DynamicMetadata.Fields["m"].BoolValue);
        Assert.Equal(2u, response.Quota.Requests);
    }

    [Fact]
    public void Unit_enums_match_envoy()
    {
        Assert.Equal(
            [0, 1, 2, 3, 4, 5, 6, 7],
            Enum.GetValues<RateLimitResponse.Types.RateLimit.Types.Unit>().Select(u => (int)u));
        Assert.Equal(
            ["Unknown", "Second", "Minute", "Hour", "Day", "Month", "Year", "Week"],
            Enum.GetValues<RateLimitResponse.Types.RateLimit.Types.Unit>().Select(u => u.ToString()));

        // envoy.type.v3.RateLimitUnit stops at YEAR: WEEK exists only in the response's unit (data-plane-api).
        Assert.Equal(
            [0, 1, 2, 3, 4, 5, 6],
            Enum.GetValues<global::Envoy.Type.V3.RateLimitUnit>().Select(u => (int)u));
        Assert.Equal(
            ["Unknown", "Second", "Minute", "Hour", "Day", "Month", "Year"],
            Enum.GetValues<global::Envoy.Type.V3.RateLimitUnit>().Select(u => u.ToString()));
    }

    [Fact]
    public void Service_and_method_names_match_envoy()
    {
        Assert.Equal("envoy.service.ratelimit.v3.RateLimitService", RateLimitService.Descriptor.FullName);
        Assert.Equal("ShouldRateLimit", Assert.Single(RateLimitService.Descriptor.Methods).Name);
        Assert.Equal("envoy.extensions.common.ratelimit.v3.RateLimitDescriptor", global::Envoy.Extensions.Common.Ratelimit.V3.RateLimitDescriptor.Descriptor.FullName);
        Assert.Equal("envoy.config.core.v3.HeaderValue", global::Envoy.Config.Core.V3.HeaderValue.Descriptor.FullName);
        Assert.Equal("grpc.health.v1.Health", Health.Descriptor.FullName);
    }

    [Fact]
    public void Health_messages_match_the_grpc_health_spec()
    {
        Assert.Equal("s", HealthCheckRequest.Parser.ParseFrom(Bytes("0A 01 73")).Service);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, HealthCheckResponse.Parser.ParseFrom(Bytes("08 01")).Status);
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.ServiceUnknown, HealthCheckResponse.Parser.ParseFrom(Bytes("08 03")).Status);
    }
}
