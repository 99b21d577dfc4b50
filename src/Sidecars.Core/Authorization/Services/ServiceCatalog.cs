namespace Sidecars.Authorization.Services;

/// <summary>Every service of a snapshot: by name, the owner index over what they own, and their API key sets by <c>service/name</c>.</summary>
public sealed class ServiceCatalog
{
    public static readonly ServiceCatalog Empty = new([]);

    public ServiceCatalog(IReadOnlyList<ServicePolicy> services)
    {
        Services = services;
        ByName = services.ToDictionary(s => s.Name, StringComparer.Ordinal);
        Owners = services.Count == 0 ? OwnerIndex.Empty : new OwnerIndex(services.SelectMany(s => s.Owns));
        ApiKeySets = services.SelectMany(s => s.ApiKeys.Values).ToDictionary(k => k.QualifiedName, StringComparer.Ordinal);
    }

    public IReadOnlyList<ServicePolicy> Services { get; }

    public IReadOnlyDictionary<string, ServicePolicy> ByName { get; }

    public OwnerIndex Owners { get; }

    public IReadOnlyDictionary<string, ApiKeySet> ApiKeySets { get; }

    public bool IsEmpty => Services.Count == 0;
}
