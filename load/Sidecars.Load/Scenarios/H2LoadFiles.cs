using System.Buffers.Binary;
using System.Text.Json;
using Envoy.Service.Auth.V3;
using Envoy.Service.Ratelimit.V3;
using Google.Protobuf;
using Sidecars.Load.Model;

namespace Sidecars.Load.Scenarios;

/// <summary>
/// DIR/h2load/&lt;scenario&gt;.bin (one request as a gRPC length-prefixed frame, for <c>h2load -d</c>) and its
/// .expect.json. h2load posts the same body every time, so check-cold's body is one cold token that becomes cached
/// after its first call, and mixed has no body (it is not one message).
/// </summary>
internal static class H2LoadFiles
{
    public const string CheckPath = "/envoy.service.auth.v3.Authorization/Check";
    public const string RateLimitPath = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";

    public static void Write(PreparedConfig config)
    {
        foreach (var name in ScenarioCatalog.Names.Where(n => n != "mixed"))
        {
            (string Path, IMessage Message, IMessage FloorResponse, Outcome Outcome) body = ScenarioCatalog.Create(name, config) switch
            {
                CheckScenario check => (CheckPath, check.Request(0), FloorCheckResponse(), check.Expected(0)),
                RateLimitScenario rls => (RateLimitPath, rls.Request(0), FloorRateLimitResponse(rls.Request(0)), rls.Expected(0)),
                _ => throw new InvalidOperationException($"scenario {name} has no single h2load body"),
            };
            var (path, message, floorResponse, outcome) = body;

            var frame = Frame(message);
            File.WriteAllBytes(config.H2LoadBody(name), frame);
            var expectation = new H2LoadExpectation(name, path, frame.Length, 5 + floorResponse.CalculateSize(), 0, Scenario.Label(outcome));
            File.WriteAllText(config.H2LoadExpect(name), JsonSerializer.Serialize(expectation, LoadJsonContext.Default.H2LoadExpectation));
        }
    }

    /// <summary>The gRPC frame: a zero compression flag, the message length (big-endian), the message.</summary>
    public static byte[] Frame(IMessage message)
    {
        var size = message.CalculateSize();
        var frame = new byte[5 + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)size);
        message.WriteTo(frame.AsSpan(5));
        return frame;
    }

    /// <summary>What load/Sidecars.Floor answers to a Check (keep the two in step).</summary>
    internal static CheckResponse FloorCheckResponse() => new() { Status = new Google.Rpc.Status(), OkResponse = new OkHttpResponse() };

    /// <summary>What load/Sidecars.Floor answers to a ShouldRateLimit: OK overall and one OK per descriptor.</summary>
    internal static RateLimitResponse FloorRateLimitResponse(RateLimitRequest request)
    {
        var response = new RateLimitResponse { OverallCode = RateLimitResponse.Types.Code.Ok };
        for (var i = 0; i < request.Descriptors.Count; i++)
        {
            response.Statuses.Add(new RateLimitResponse.Types.DescriptorStatus { Code = RateLimitResponse.Types.Code.Ok });
        }

        return response;
    }
}
