using System.Globalization;
using Sidecars.Load.Model;
using Sidecars.Load.Report;

namespace Sidecars.Load.Compare;

/// <summary>
/// h2load reads a gRPC error as a success: it travels as HTTP 200 with a grpc-status trailer and no data. So every
/// h2load run is checked against the server's own /readyz "calls" delta (did the server see the calls, and decide
/// them as expected?) and against the response size (data bytes per call = the expected response frame).
/// </summary>
public static class H2LoadCrossCheck
{
    /// <param name="inFlight">Streams h2load keeps open (clients x streams): calls the server answered whose bytes
    /// h2load may not have counted when it stopped.</param>
    public static H2LoadCheck Judge(H2Load.Output output, ServerSample before, ServerSample after, H2LoadExpectation expect, bool isFloor, int inFlight)
    {
        var rls = expect.Path.Contains("RateLimitService", StringComparison.Ordinal);
        var totalKey = rls ? "should_rate_limit" : "check";

        // The floor allows everything; the sidecar answers as the scenario expects.
        var outcome = isFloor ? (rls ? "ok" : "allow") : expect.Outcome;
        var outcomeKey = outcome switch
        {
            "allow" => "check_ok",
            "ok" => "should_rate_limit_ok",
            "over_limit" => "should_rate_limit_over_limit",
            _ when outcome.StartsWith("deny", StringComparison.Ordinal) => "check_denied",
            _ => totalKey,
        };
        var calls = Delta(before, after, totalKey);
        var expected = Delta(before, after, outcomeKey);
        var expectedBytes = isFloor ? expect.FloorResponseFrameBytes : expect.SidecarsResponseFrameBytes;

        // h2load's data bytes cover its warm-up too, and so does the server's delta: their quotient is the bytes per answer.
        var bytesPerCall = calls > 0 ? (double)output.DataBytes / calls : 0;
        List<string> problems = [];
        if (output.Failed + output.Errored + output.Timeout > 0)
        {
            problems.Add($"h2load: {output.Failed} failed, {output.Errored} errored, {output.Timeout} timed out");
        }

        if (output.StatusOther > 0)
        {
            problems.Add($"{output.StatusOther} non-2xx HTTP statuses");
        }

        if (calls < output.Succeeded)
        {
            problems.Add($"the server counted {calls} {totalKey} calls, fewer than h2load's {output.Succeeded} successes");
        }

        if (expected != calls)
        {
            problems.Add($"{calls - expected} of {calls} calls were not '{outcome}' by the server's counters");
        }

        // Every answer counted by the server carries its frame, except those still in flight when h2load stopped
        // (up to one per open stream: 0.6 % of a 0.5 s round at 40,000/s, more than a fixed tolerance would allow).
        // Fewer bytes than that are answers without data: gRPC errors. h2load prints its data bytes exactly.
        var leastBytes = (calls - Math.Min(calls, inFlight)) * (long)expectedBytes;
        var mostBytes = calls * (long)expectedBytes;
        if (expectedBytes > 0 && (output.DataBytes < leastBytes || output.DataBytes > mostBytes))
        {
            problems.Add($"{bytesPerCall:F1} data bytes per call, expected a {expectedBytes}-byte response frame (a gRPC error has none)");
        }

        var size = expectedBytes > 0 ? $"{bytesPerCall:F1} B/call vs {expectedBytes} B expected" : $"{bytesPerCall:F1} B/call (size not known at prepare time: not compared)";
        var detail = problems.Count == 0
            ? string.Create(CultureInfo.InvariantCulture, $"agrees: server {calls} {totalKey} calls, all '{outcome}' ({outcomeKey}); h2load {output.Succeeded} in the measured window; {size}")
            : string.Join("; ", problems);
        return new H2LoadCheck(problems.Count == 0, output.Succeeded, calls, expected, Math.Round(bytesPerCall, 2), expectedBytes, detail);
    }

    public static long Delta(ServerSample before, ServerSample after, string key) =>
        after.Calls.GetValueOrDefault(key) - before.Calls.GetValueOrDefault(key);
}
