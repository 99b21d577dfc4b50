using System.Text.Json;
using Microsoft.Extensions.Logging.Abstractions;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Authorization.Services;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;
using Sidecars.RateLimiting.Stores;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Server.Tools;

/// <summary>
/// <c>sidecars explain --config DIR --request FILE.yaml</c>: which service and route decide the request and why the
/// others do not, each requirement and rule with its outcome, each limit with its key and what remains, and the
/// answer the server would give (from the same adapter, in process).
/// </summary>
internal static class PolicyExplainCommand
{
    public static int Run(string directory, string requestFile, TextWriter output, TextWriter errors)
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

            return 1;
        }

        YamlMappingNode? map;
        try
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(File.ReadAllText(requestFile)));
            map = stream.Documents.Count == 0 ? null : stream.Documents[0].RootNode as YamlMappingNode;
        }
        catch (Exception e) when (e is YamlException or IOException or UnauthorizedAccessException)
        {
            errors.WriteLine($"sidecars: {requestFile}: {(e is YamlException y ? $"{y.Start.Line}:{y.Start.Column}: invalid YAML: {(y.InnerException ?? y).Message}" : e.Message)}");
            return 1;
        }

        // The request alone, or a test case holding it under 'request'.
        if (map is not null && PolicyRequestBuilder.Get(map, "request") is YamlMappingNode inner)
        {
            map = inner;
        }

        var time = new PolicyTestCommand.StillTime(DateTimeOffset.UtcNow);
        var builder = new PolicyRequestBuilder(snapshot, time.GetUtcNow());
        var request = map is null ? null : builder.Build(map, out var requestError) ?? throw new InvalidDataException(requestError);
        if (request is null)
        {
            errors.WriteLine($"sidecars: {requestFile}: a request is a mapping with host, path, method, headers, token...");
            return 1;
        }

        var view = new MessageRequestView(request);
        var http = request.Attributes.Request.Http;
        output.WriteLine($"request: {http.Method} {http.Host}{http.Path}");
        if (!RouteRequest.TryCreate(view, out var facts, out var rejection))
        {
            output.WriteLine($"decision: 400 {rejection}");
            return 0;
        }

        var policy = snapshot.Auth;
        var cache = new TokenCache(100, time);
        var tokens = RequestTokens.Rent(view, policy.Validators, cache, time);
        try
        {
            var owner = policy.Services.Owners.Find(facts.Host.Span, facts.Path.Value.Span, ignoreCase: false);
            foreach (var service in policy.Services.Services)
            {
                foreach (var space in service.Owns.Where(s => s != owner && string.Equals(s.Host, owner?.Host ?? facts.Host.ToString(), StringComparison.OrdinalIgnoreCase)))
                {
                    output.WriteLine($"  service '{service.Name}' owns {space}: {(owner is not null && space.Service == owner.Service ? "not the longest match" : "does not hold this path")}");
                }
            }

            if (owner is null)
            {
                output.WriteLine("owner: no service owns this request; the shared routes decide");
                Routes(output, policy.Routes, facts);
            }
            else
            {
                output.WriteLine($"owner: service '{owner.Service.Name}' ({owner.Service.File}) owns {owner} at {owner.Location}{(owner.Service.Mode == PolicyMode.DryRun ? ", in dry run" : string.Empty)}");
                if (Routes(output, owner.Service.Routes, facts) is { Service: { } chosen } route)
                {
                    Explain(output, route, chosen, facts, tokens, view, time);
                }
            }
        }
        finally
        {
            RequestTokens.Return(tokens);
        }

        var config = new ConfigState();
        config.Publish(snapshot);
        var adapter = new AuthorizationServiceAdapter(config, cache, time, new AuthResponseOptions { ExposeReason = true }, NullLogger<AuthorizationServiceAdapter>.Instance, new InMemoryBucketStore(time));
        var answer = Answered.Of(adapter.Answer(request).GetAwaiter().GetResult().ToMessage());
        output.WriteLine($"decision: {answer.Status} {answer.Reason}");
        foreach (var header in answer.Headers)
        {
            output.WriteLine($"  header {header.Header.Key}: {header.Header.Value}");
        }

        return 0;
    }

    /// <summary>Each route in order until one matches; returns it.</summary>
    private static AuthRoute? Routes(TextWriter output, IReadOnlyList<AuthRoute> routes, in RouteRequest facts)
    {
        foreach (var route in routes)
        {
            if (route.Match.Mismatch(facts) is { } why)
            {
                output.WriteLine($"  route '{route.Name}': no match ({why})");
                continue;
            }

            output.WriteLine($"  route '{route.Name}': matches{(route.Service?.DryRun == true ? " (dry run)" : string.Empty)}");
            return route;
        }

        output.WriteLine("  no route matches");
        return null;
    }

    private static void Explain(TextWriter output, AuthRoute route, ServiceRoute service, in RouteRequest facts, RequestTokens tokens, MessageRequestView view, TimeProvider time)
    {
        var decision = AuthEvaluator.Evaluate(route.Requires, route.Name, tokens);
        output.WriteLine($"requires {Describe(route.Requires)}: {(decision.Allowed ? "met" : $"not met, {decision.Status} {decision.Description}")}{Identity(decision)}");
        if (!decision.Allowed)
        {
            return;
        }

        var input = new RuleInput(view, facts.Path.Value, decision.Token?.Claims ?? default(JsonElement));
        var allHold = true;
        for (var i = 0; i < service.Rules.Count; i++)
        {
            var holds = service.Rules[i].Holds(input);
            allHold &= holds;
            output.WriteLine($"rule {i + 1} {service.Rules[i].Text}: {(holds ? "holds" : "fails")}");
        }

        if (!allHold)
        {
            output.WriteLine(service.Limits.Count == 0 ? "limits: none" : "limits: not charged (a rule failed)");
            return;
        }

        decision = decision with { Service = service.Service, ServiceRoute = service };
        var batch = new Sidecars.RateLimiting.BucketBatch();
        ServiceLimiter.Build(decision, view, batch);
        new ServiceLimiter(new InMemoryBucketStore(time)).ApplyAsync(batch).AsTask().GetAwaiter().GetResult();
        foreach (var limit in service.Limits)
        {
            var key = ServiceLimiter.Describe(limit, decision, view);
            var charged = key is null ? default : batch.Operations.ToArray().FirstOrDefault(o => ReferenceEquals(o.Limit, limit.Limit));
            output.WriteLine(key is null
                ? $"limit '{limit.Name}' per {string.Join(", ", limit.Parts)}: does not apply (a part has no value in this request)"
                : $"limit '{limit.Name}' ({key}): {limit.Limit.RequestsPerUnit} per {Sidecars.RateLimiting.RateLimitUnits.Name(limit.Limit.Unit)}, {(charged.OverLimit ? "over" : $"{charged.Remaining} left after this call (fresh buckets)")}");
        }
    }

    private static string Identity(in AuthDecision decision) =>
        decision.Token is not { } token ? string.Empty
        : token.ApiKeyId is { } id ? $" (API key '{id}')"
        : token.Subject is { } sub ? $" (sub '{sub}')" : string.Empty;

    private static string Describe(Requirement requirement) => requirement switch
    {
        AllowRequirement => "allow",
        DenyRequirement => "deny",
        ProviderRequirement p => $"a token of provider '{p.Provider}'{(p.Scopes is { Count: > 0 } s ? $" with scopes {string.Join(" ", s)}" : string.Empty)}",
        ApiKeyRequirement k => $"an API key of set '{k.Name}'",
        AnyRequirement any => "any of (" + string.Join("; ", any.Options.Select(Describe)) + ")",
        AllRequirement all => "all of (" + string.Join("; ", all.Parts.Select(Describe)) + ")",
        _ => requirement.ToString()!,
    };
}
