using System.Text;
using BenchmarkDotNet.Attributes;
using Envoy.Service.Auth.V3;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Config;
using Sidecars.Envoy.Authorization;

namespace Sidecars.Benchmarks.Authorization;

/// <summary>Service files of <see cref="Routes"/> routes each, as a platform with many owners would hold them.</summary>
internal static class ServiceFiles
{
    public const int Routes = 20;

    public static IReadOnlyList<ConfigSource> Make(int services)
    {
        var sources = new List<ConfigSource>(services);
        for (var s = 0; s < services; s++)
        {
            var text = new StringBuilder();
            text.Append("service: svc").Append(s).Append('\n');
            text.Append("owns:\n  - { host: svc").Append(s).Append(".example.com }\n  - { host: api.example.com, path_prefix: /svc").Append(s).Append("/ }\n");
            text.Append("routes:\n");
            for (var r = 0; r < Routes; r++)
            {
                text.Append("  - name: r").Append(r).Append('\n');
                text.Append("    match: { path_prefix: /svc").Append(s).Append("/r").Append(r).Append("/, methods: [GET, POST] }\n");
                text.Append("    requires: allow\n");
                text.Append("    rules:\n      - header: { name: x-tenant, in: [acme, globex] }\n      - not: { header: { name: x-debug, exists: true } }\n");
                text.Append("    rate_limits:\n      - { name: per-tenant, per: [header:x-tenant], unit: minute, requests_per_unit: 100 }\n");
            }

            sources.Add(new ConfigSource($"svc{s:D4}.yaml", text.ToString()));
        }

        return sources;
    }

    public static ConfigSnapshot Compile(IReadOnlyList<ConfigSource> sources)
    {
        var diagnostics = new ConfigDiagnostics();
        return ConfigLoader.Compile(sources, diagnostics) ?? throw new InvalidOperationException(string.Join("\n", diagnostics.Errors.Take(5)));
    }
}

/// <summary>Issue 9: compiling 1,000 services of 20 routes (budget 2 s), as a ratio to 10 services in the same run.</summary>
public class ServiceCompileBenchmarks
{
    private IReadOnlyList<ConfigSource> _ten = null!;
    private IReadOnlyList<ConfigSource> _thousand = null!;

    [GlobalSetup]
    public void Setup()
    {
        _ten = ServiceFiles.Make(10);
        _thousand = ServiceFiles.Make(1000);
    }

    [Benchmark(Baseline = true, Description = "Compile 10 services x 20 routes")]
    public ConfigSnapshot Ten() => ServiceFiles.Compile(_ten);

    [Benchmark(Description = "Compile 1,000 services x 20 routes")]
    public ConfigSnapshot Thousand() => ServiceFiles.Compile(_thousand);
}

/// <summary>
/// Issue 9: the route decision for a request of the last service, with 10, 100 and 1,000 services loaded (20 routes
/// each): the owner index makes the lookup independent of the number of services. Baseline: 10 services.
/// </summary>
public class ServiceLookupBenchmarks
{
    private readonly Dictionary<int, (ConfigState State, CheckRequest Request)> _policies = [];
    private readonly TokenCache _cache = new(10, TimeProvider.System);
    private readonly string _lastRoute = $"r{ServiceFiles.Routes - 1}";

    [GlobalSetup]
    public void Setup()
    {
        foreach (var count in (int[])[10, 100, 1000])
        {
            var state = new ConfigState();
            state.Publish(ServiceFiles.Compile(ServiceFiles.Make(count)));
            var last = count - 1;
            var request = global::Sidecars.Benchmarks.Envoy.CheckServiceBenchmarks.EnvoyCheckRequest("Bearer x");
            request.Attributes.Request.Http.Host = "api.example.com";
            request.Attributes.Request.Http.Path = $"/svc{last}/r{ServiceFiles.Routes - 1}/item";
            request.Attributes.Request.Http.Headers["x-tenant"] = "acme";
            _policies[count] = (state, request);
            if (!Decide(count))
            {
                throw new InvalidOperationException($"the request of service {last} must be allowed with {count} services");
            }
        }
    }

    private bool Decide(int count)
    {
        var (state, request) = _policies[count];
        var policy = state.Current.Auth;
        var view = CheckRequestView.Rent(request);
        var tokens = RequestTokens.Rent(view, policy.Validators, _cache, TimeProvider.System);
        var decision = AuthEvaluator.Decide(policy, view, tokens);
        RequestTokens.Return(tokens);
        CheckRequestView.Return(view);
        return decision.Allowed && string.Equals(decision.Route, _lastRoute, StringComparison.Ordinal);
    }

    [Benchmark(Baseline = true, Description = "Decide with 10 services loaded")]
    public bool Ten() => Decide(10);

    [Benchmark(Description = "Decide with 100 services loaded")]
    public bool Hundred() => Decide(100);

    [Benchmark(Description = "Decide with 1,000 services loaded")]
    public bool Thousand() => Decide(1000);
}
