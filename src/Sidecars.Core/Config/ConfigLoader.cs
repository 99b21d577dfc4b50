using System.Security.Cryptography;
using System.Text;
using Sidecars.Authentication;
using Sidecars.Authorization.Config;
using Sidecars.RateLimiting.Config;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Config;

/// <summary>
/// YAML → located model → validation that collects every error → compiled snapshot.
/// Reading the directory is separate from compiling so tests and the embedded default share the compiler.
/// </summary>
public static class ConfigLoader
{
    /// <summary>
    /// Reads the <c>*.yaml</c>/<c>*.yml</c> files directly in <paramref name="directory"/>, in ordinal name order.
    /// Names starting with a dot are skipped: Kubernetes mounts a ConfigMap as <c>..data</c> plus symlinks to it,
    /// and the symlinks are what we read.
    /// </summary>
    public static IReadOnlyList<ConfigSource> ReadDirectory(string directory, ConfigDiagnostics diagnostics)
    {
        var sources = new List<ConfigSource>();
        if (!Directory.Exists(directory))
        {
            diagnostics.Add(directory, 1, 1, "config directory does not exist");
            return sources;
        }

        var files = Directory.EnumerateFiles(directory)
            .Where(f => !Path.GetFileName(f).StartsWith('.') && (f.EndsWith(".yaml", StringComparison.Ordinal) || f.EndsWith(".yml", StringComparison.Ordinal)))
            .Order(StringComparer.Ordinal);
        foreach (var file in files)
        {
            try
            {
                sources.Add(new ConfigSource(file, File.ReadAllText(file)));
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                diagnostics.Add(file, 1, 1, $"cannot read file: {e.Message}");
            }
        }

        return sources;
    }

    /// <summary>Loads a directory; throws <see cref="ConfigException"/> with every error found.</summary>
    public static ConfigSnapshot LoadDirectory(string directory)
    {
        var diagnostics = new ConfigDiagnostics();
        var sources = ReadDirectory(directory, diagnostics);
        var snapshot = Compile(sources, diagnostics);
        return diagnostics.HasErrors || snapshot is null ? throw new ConfigException(diagnostics.Errors) : snapshot;
    }

    /// <summary>Compiles sources into a snapshot, or returns null with the errors in <paramref name="diagnostics"/>.</summary>
    public static ConfigSnapshot? Compile(IReadOnlyList<ConfigSource> sources, ConfigDiagnostics diagnostics)
    {
        var domains = new List<DomainDefinition>();
        var authFiles = new List<AuthYamlParser.FileDefinition>();
        foreach (var source in sources)
        {
            var root = ParseDocument(source, diagnostics);
            if (root is null)
            {
                continue;
            }

            var yaml = new YamlReading(source.Path, diagnostics);
            var isAuth = AuthYamlParser.RootKeys.Any(k => YamlReading.GetKeyNode(root, k) is not null);
            if (isAuth && YamlReading.GetKeyNode(root, "domain") is { } domainKey)
            {
                yaml.Error(domainKey, "a file is either a rate limit domain ('domain') or an authorization file ('providers', 'routes', 'default'), not both");
                continue;
            }

            if (isAuth)
            {
                authFiles.Add(AuthYamlParser.Parse(yaml, root));
            }
            else
            {
                domains.Add(RateLimitYamlParser.Parse(yaml, root));
            }
        }

        var rateLimits = RateLimitCompiler.Compile(domains, diagnostics);
        var auth = AuthYamlParser.Compile(authFiles, diagnostics);
        LoadLocalKeys(auth, authFiles, diagnostics);
        return diagnostics.HasErrors ? null : new ConfigSnapshot(rateLimits, [.. sources.Select(s => s.Path)], Fingerprint(sources), auth: auth);
    }

    /// <summary>Loads <c>local_jwks</c> keys (a file next to the config file, or inline JSON) into their providers at compile time.</summary>
    private static void LoadLocalKeys(AuthPolicy auth, List<AuthYamlParser.FileDefinition> files, ConfigDiagnostics diagnostics)
    {
        foreach (var file in files)
        {
            foreach (var (policy, node) in file.Providers)
            {
                var keys = policy.Keys;
                if (keys.LocalFile is null && keys.LocalInline is null)
                {
                    continue;
                }

                try
                {
                    var json = keys.LocalInline is { } inline
                        ? System.Text.Encoding.UTF8.GetBytes(inline)
                        : File.ReadAllBytes(Path.Combine(Path.GetDirectoryName(file.File) ?? ".", keys.LocalFile!));
                    var parsed = JwksParser.Parse(json, out var unusable, allowSymmetric: true);
                    if (parsed.Count == 0)
                    {
                        diagnostics.Add(file.File, node, $"provider '{policy.Provider.Name}': local_jwks holds no usable key: {string.Join("; ", unusable)}");
                    }

                    policy.Provider.SetKeys(parsed);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException or System.Text.Json.JsonException or FormatException)
                {
                    diagnostics.Add(file.File, node, $"provider '{policy.Provider.Name}': cannot read local_jwks: {e.Message}");
                }
            }
        }
    }

    private static YamlMappingNode? ParseDocument(ConfigSource source, ConfigDiagnostics diagnostics)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(source.Text));
        }
        catch (YamlException e)
        {
            var message = e.InnerException is YamlException inner ? inner.Message : e.Message;
            diagnostics.Add(source.Path, (int)e.Start.Line, (int)e.Start.Column, $"invalid YAML: {message}");
            return null;
        }

        if (stream.Documents.Count == 0 || YamlReading.IsNull(stream.Documents[0].RootNode))
        {
            diagnostics.Add(source.Path, 1, 1, "config file is empty: it cannot have empty domain");
            return null;
        }

        if (stream.Documents.Count > 1)
        {
            var second = stream.Documents[1].RootNode;
            diagnostics.Add(source.Path, second, "a config file holds one YAML document; split the others into their own files");
        }

        if (stream.Documents[0].RootNode is not YamlMappingNode root)
        {
            diagnostics.Add(source.Path, stream.Documents[0].RootNode, "a config file must be a mapping with a top-level 'domain'");
            return null;
        }

        return root;
    }

    private static string Fingerprint(IReadOnlyList<ConfigSource> sources)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var source in sources)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(source.Path));
            hash.AppendData([0]);
            hash.AppendData(Encoding.UTF8.GetBytes(source.Text));
            hash.AppendData([0]);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
