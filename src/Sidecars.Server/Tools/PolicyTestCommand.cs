using System.Globalization;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecars.Authentication;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;
using Sidecars.RateLimiting.Stores;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Server.Tools;

/// <summary>
/// <c>sidecars test DIR</c>: runs the cases of every <c>*.test.yaml</c> beside the policies of DIR through the real
/// ext_authz decision (the adapter the server runs), in process, with no Envoy, Redis or identity provider.
/// Each case gets fresh buckets and a clock that stands still, so <c>repeat: N</c> is exact.
/// </summary>
internal static class PolicyTestCommand
{
    private static readonly string[] CaseKeys = ["name", "request", "repeat", "expect"];
    private static readonly string[] ExpectKeys = ["status", "headers", "reason"];

    public static int Run(string directory, TextWriter output, TextWriter errors)
    {
        ConfigSnapshot snapshot;
        try
        {
            snapshot = ConfigLoader.LoadDirectory(directory);
        }
        catch (ConfigException e)
        {
            foreach (var error in e.Errors)
            {
                errors.WriteLine(error);
            }

            errors.WriteLine($"sidecars: config invalid ({e.Errors.Count} errors); no test was run");
            return 1;
        }

        var files = Directory.EnumerateFiles(directory).Where(ConfigLoader.IsTestFileName).Order(StringComparer.Ordinal).ToList();
        if (files.Count == 0)
        {
            errors.WriteLine($"sidecars: no *.test.yaml files in {directory}");
            return 1;
        }

        var time = new StillTime(DateTimeOffset.UtcNow);
        var requests = new PolicyRequestBuilder(snapshot, time.GetUtcNow());
        var config = new ConfigState();
        config.Publish(snapshot);
        int passed = 0, failed = 0;
        foreach (var file in files)
        {
            foreach (var (line, name, problem) in RunFile(file, config, requests, time))
            {
                if (problem is null)
                {
                    passed++;
                    continue;
                }

                failed++;
                output.WriteLine($"{Path.GetFileName(file)}:{line}: {name}: {problem}");
            }
        }

        output.WriteLine($"{passed} passed, {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    private static IEnumerable<(long Line, string Name, string? Problem)> RunFile(string file, ConfigState config, PolicyRequestBuilder requests, StillTime time)
    {
        var stream = new YamlStream();
        string? loadError = null;
        try
        {
            stream.Load(new StringReader(File.ReadAllText(file)));
        }
        catch (YamlException e)
        {
            loadError = $"{e.Start.Line}: invalid YAML: {(e.InnerException ?? e).Message}";
        }
        catch (IOException e)
        {
            loadError = "1: cannot be read: " + e.Message;
        }

        if (loadError is not null)
        {
            yield return (long.Parse(loadError[..loadError.IndexOf(':', StringComparison.Ordinal)], CultureInfo.InvariantCulture), "(file)", loadError[(loadError.IndexOf(':', StringComparison.Ordinal) + 2)..]);
            yield break;
        }

        var root = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode;
        var cases = root is YamlMappingNode map ? PolicyRequestBuilder.Get(map, "cases") as YamlSequenceNode : root as YamlSequenceNode;
        if (cases is null)
        {
            yield return (root?.Start.Line ?? 1, "(file)", "a test file holds 'cases:', a list of cases");
            yield break;
        }

        var index = 0;
        foreach (var node in cases.Children)
        {
            index++;
            var name = node is YamlMappingNode named && PolicyRequestBuilder.Scalar(named, "name") is { } given ? given : $"case {index}";
            yield return (node.Start.Line, name, node is YamlMappingNode caseMap ? RunCase(caseMap, config, requests, time) : "a case is a mapping with 'request' and 'expect'");
        }
    }

    /// <summary>Null when the case passes, else what differed (about the last call).</summary>
    private static string? RunCase(YamlMappingNode map, ConfigState config, PolicyRequestBuilder requests, StillTime time)
    {
        foreach (var (key, _) in map.Children)
        {
            if (key is YamlScalarNode { Value: { } name } && Array.IndexOf(CaseKeys, name) < 0)
            {
                return $"unknown key '{ConfigText.Shown(name)}' in a case (valid: {string.Join(", ", CaseKeys)})";
            }
        }

        if (PolicyRequestBuilder.Get(map, "request") is not YamlMappingNode requestMap)
        {
            return "a case needs a 'request' mapping";
        }

        if (PolicyRequestBuilder.Get(map, "expect") is not YamlMappingNode expect || !int.TryParse(PolicyRequestBuilder.Scalar(expect, "status"), CultureInfo.InvariantCulture, out var status))
        {
            return "a case needs 'expect' with a 'status' (200, 401, 403, 429...)";
        }

        foreach (var (key, _) in expect.Children)
        {
            if (key is YamlScalarNode { Value: { } name } && Array.IndexOf(ExpectKeys, name) < 0)
            {
                return $"unknown key '{ConfigText.Shown(name)}' in 'expect' (valid: {string.Join(", ", ExpectKeys)})";
            }
        }

        var repeatText = PolicyRequestBuilder.Scalar(map, "repeat");
        var repeat = 1;
        if (repeatText is not null && (!int.TryParse(repeatText, CultureInfo.InvariantCulture, out repeat) || repeat is < 1 or > 10_000))
        {
            return "'repeat' must be a number from 1 to 10000";
        }

        var request = requests.Build(requestMap, out var requestError);
        if (request is null)
        {
            return requestError;
        }

        // Fresh buckets and token cache per case: cases do not depend on each other's order.
        var adapter = new AuthorizationServiceAdapter(config, new TokenCache(1000, time), time, new AuthResponseOptions { ExposeReason = true }, NullLogger<AuthorizationServiceAdapter>.Instance, new InMemoryBucketStore(time));
        CheckResponse response = null!;
        for (var i = 0; i < repeat; i++)
        {
            response = adapter.Answer(request).GetAwaiter().GetResult().ToMessage();
        }

        var answer = Answered.Of(response);
        if (answer.Status != status)
        {
            return $"expected status {status}, got {answer.Status} ({answer.Reason})";
        }

        if (PolicyRequestBuilder.Scalar(expect, "reason") is { } reason && !answer.Reason.Contains(reason, StringComparison.Ordinal))
        {
            return $"expected a reason containing '{reason}', got '{answer.Reason}'";
        }

        foreach (var (name, value) in PolicyRequestBuilder.Pairs(expect, "headers"))
        {
            var got = answer.Header(name);
            if (!string.Equals(got, value, StringComparison.Ordinal))
            {
                return $"expected header {name}: {value}, got {(got is null ? "no such header" : got)}";
            }
        }

        return null;
    }

    /// <summary>A clock that does not move: a case's repeated calls all land in the same instant.</summary>
    internal sealed class StillTime(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }
}

/// <summary>A CheckResponse as a test or <c>explain</c> reads it: the HTTP status Envoy answers, the reason, and every header it sets.</summary>
internal sealed record Answered(int Status, string Reason, IReadOnlyList<HeaderValueOption> Headers)
{
    public static Answered Of(CheckResponse response)
    {
        if (response.OkResponse is { } ok)
        {
            var dryRun = ok.Headers.FirstOrDefault(h => h.Header.Key == AuthorizationServiceAdapter.DryRunHeader)?.Header.Value;
            return new Answered(200, dryRun is null ? "allowed" : "allowed in dry run: would be " + dryRun, [.. ok.Headers, .. ok.ResponseHeadersToAdd]);
        }

        return new Answered((int)(response.DeniedResponse?.Status?.Code ?? global::Envoy.Type.V3.StatusCode.Forbidden), response.Status?.Message ?? string.Empty, [.. response.DeniedResponse?.Headers ?? []]);
    }

    public string? Header(string name) =>
        Headers.FirstOrDefault(h => string.Equals(h.Header.Key, name, StringComparison.OrdinalIgnoreCase))?.Header.Value;
}
