using System.Security.Cryptography;
using System.Text;
using Sidecars.Authorization.Config;
using Sidecars.RateLimiting.Config;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Config;

/// <summary>
/// YAML → located model → validation that collects every error → compiled snapshot.
/// Reading the directory is separate from compiling so tests and the embedded default share the compiler.
/// Every path from outside ends here in a located error, never an exception (STYLE.md, "Catch at the boundary").
/// </summary>
public static class ConfigLoader
{
    /// <summary>The warning <c>validate</c> prints for a directory without config files (issue 7, finding 17).</summary>
    public const string EmptyDirectoryWarning = "no config files (*.yaml, *.yml) in this directory: nothing is rate limited and ext_authz answers per its empty default";

    /// <summary>
    /// Reads the <c>*.yaml</c>/<c>*.yml</c> files directly in <paramref name="directory"/>, in ordinal name order.
    /// Names starting with a dot are skipped: Kubernetes mounts a ConfigMap as <c>..data</c> plus symlinks to it,
    /// and the symlinks are what we read. Bounded by <see cref="ConfigLimits"/>; a listing that fails (a directory
    /// made unreadable, out of file descriptors) is an error of the directory, not an exception.
    /// </summary>
    public static IReadOnlyList<ConfigSource> ReadDirectory(string directory, ConfigDiagnostics diagnostics)
    {
        var sources = new List<ConfigSource>();
        List<string> files;
        try
        {
            if (!Directory.Exists(directory))
            {
                // File.Exists is also true for a dangling symbolic link (a mount or ConfigMap gone from under it).
                var problem = new FileInfo(directory) is { Exists: true, LinkTarget: null } ? "config directory is a file, not a directory"
                    : File.Exists(directory) ? "config directory is a symbolic link to something that is not a directory" : "config directory does not exist";
                diagnostics.Add(directory, 1, 1, problem);
                return sources;
            }

            files = [.. Directory.EnumerateFiles(directory).Where(IsConfigFileName).Order(StringComparer.Ordinal)];
        }
#pragma warning disable CA1031 // The file system is outside input: whatever it throws becomes a located error.
        catch (Exception e)
#pragma warning restore CA1031
        {
            diagnostics.Add(directory, 1, 1, "cannot list the config directory: " + ConfigText.Describe(e));
            return sources;
        }

        if (files.Count > ConfigLimits.MaxFiles)
        {
            diagnostics.Add(directory, 1, 1, $"config refused: more than {ConfigLimits.MaxFiles} config files ({files.Count})");
            return sources;
        }

        long total = 0;
        foreach (var file in files)
        {
            var bytes = ConfigFileReader.ReadRegularFile(file, ConfigLimits.MaxFileBytes, out var error);
            if (bytes is null)
            {
                diagnostics.Add(file, 1, 1, "config file " + error);
                continue;
            }

            total += bytes.Length;
            if (total > ConfigLimits.MaxTotalBytes)
            {
                diagnostics.Add(file, 1, 1, $"config refused: the config files add up to more than {ConfigLimits.MaxTotalBytes} bytes");
                break;
            }

            if (ConfigFileReader.Decode(file, bytes, diagnostics) is { } text)
            {
                sources.Add(new ConfigSource(file, text));
            }
        }

        return sources;
    }

    /// <summary>Loads a directory; throws <see cref="ConfigException"/> with every error found.</summary>
    public static ConfigSnapshot LoadDirectory(string directory) => LoadDirectory(directory, out _);

    /// <summary>Loads a directory as <c>validate</c> does; <paramref name="warnings"/> says what is valid but likely a mistake.</summary>
    public static ConfigSnapshot LoadDirectory(string directory, out IReadOnlyList<string> warnings)
    {
        var diagnostics = new ConfigDiagnostics();
        var sources = ReadDirectory(directory, diagnostics);
        warnings = sources.Count == 0 && !diagnostics.HasErrors ? [EmptyDirectoryWarning] : [];
        var snapshot = Compile(sources, diagnostics);
        return diagnostics.HasErrors || snapshot is null ? throw new ConfigException(diagnostics.Errors) : snapshot;
    }

    /// <summary>A policy test file (<c>*.test.yaml</c>) lives beside the policies it tests; <c>sidecars test</c> reads it, the server does not.</summary>
    public static bool IsTestFileName(string path) =>
        path.EndsWith(".test.yaml", StringComparison.Ordinal) || path.EndsWith(".test.yml", StringComparison.Ordinal);

    private static bool IsConfigFileName(string path) =>
        !Path.GetFileName(path).StartsWith('.') && !IsTestFileName(path) && (path.EndsWith(".yaml", StringComparison.Ordinal) || path.EndsWith(".yml", StringComparison.Ordinal));

    /// <summary>Compiles sources into a snapshot, or returns null with the errors in <paramref name="diagnostics"/>.</summary>
    public static ConfigSnapshot? Compile(IReadOnlyList<ConfigSource> sources, ConfigDiagnostics diagnostics)
    {
        try
        {
            return CompileUnguarded(sources, diagnostics);
        }
#pragma warning disable CA1031 // Last line of defence: a bug in a parser or compiler must not stop the process.
        catch (Exception e)
#pragma warning restore CA1031
        {
            diagnostics.Add(sources.Count > 0 ? sources[0].Path : "config", 1, 1, "config cannot be compiled: " + ConfigText.Describe(e));
            return null;
        }
    }

    private static ConfigSnapshot? CompileUnguarded(IReadOnlyList<ConfigSource> sources, ConfigDiagnostics diagnostics)
    {
        var domains = new List<DomainDefinition>();
        var authFiles = new List<AuthYamlParser.FileDefinition>();
        var serviceFiles = new List<AuthYamlParser.ServiceDefinition>();
        long nodes = 0;
        foreach (var source in sources)
        {
            long fileNodes;
            try
            {
                fileNodes = YamlGuard.Check(source, diagnostics);
            }
#pragma warning disable CA1031 // One file's unexpected failure is that file's located error, never another file's.
            catch (Exception e)
#pragma warning restore CA1031
            {
                diagnostics.Add(source.Path, 1, 1, "config file cannot be read: " + ConfigText.Describe(e));
                continue;
            }

            if (fileNodes < 0)
            {
                continue;
            }

            nodes += fileNodes;
            if (nodes > ConfigLimits.MaxNodesPerSnapshot)
            {
                diagnostics.Add(source.Path, 1, 1, $"config refused: the config files hold more than {ConfigLimits.MaxNodesPerSnapshot} YAML nodes once aliases are expanded");
                break;
            }

            try
            {
                ParseFile(source, diagnostics, domains, authFiles, serviceFiles);
            }
#pragma warning disable CA1031 // One file's unexpected failure is that file's located error.
            catch (Exception e)
#pragma warning restore CA1031
            {
                diagnostics.Add(source.Path, 1, 1, "config file cannot be read: " + ConfigText.Describe(e));
            }
        }

        var rateLimits = RateLimitCompiler.Compile(domains, diagnostics);
        var auth = AuthYamlParser.Compile(authFiles, diagnostics);
        auth = auth with { Services = AuthYamlParser.CompileServices(serviceFiles, auth.Providers, diagnostics) };
        var keyFiles = LocalKeys.Load(authFiles, diagnostics);
        return diagnostics.HasErrors ? null : new ConfigSnapshot(rateLimits, [.. sources.Select(s => s.Path)], Fingerprint(sources, keyFiles), auth: auth)
        {
            KeyFiles = [.. keyFiles.Select(k => (k.ConfigFile, k.Path))],
            Sources = sources,
        };
    }

    private static void ParseFile(ConfigSource source, ConfigDiagnostics diagnostics, List<DomainDefinition> domains, List<AuthYamlParser.FileDefinition> authFiles, List<AuthYamlParser.ServiceDefinition> serviceFiles)
    {
        var root = ParseDocument(source, diagnostics);
        if (root is null)
        {
            return;
        }

        var yaml = new YamlReading(source.Path, diagnostics);
        if (YamlReading.GetKeyNode(root, "service") is { } serviceKey)
        {
            foreach (var other in (ReadOnlySpan<string>)["domain", "providers", "default"])
            {
                if (YamlReading.GetKeyNode(root, other) is { } mixed)
                {
                    yaml.Error(mixed, $"a service file ('service') holds only its own owns, mode, routes and api_keys; '{other}' belongs in a file of its own");
                    return;
                }
            }

            if (AuthYamlParser.ParseService(yaml, root) is { } service)
            {
                serviceFiles.Add(service);
            }

            return;
        }

        var isAuth = AuthYamlParser.RootKeys.Any(k => YamlReading.GetKeyNode(root, k) is not null);
        if (isAuth && YamlReading.GetKeyNode(root, "domain") is { } domainKey)
        {
            yaml.Error(domainKey, "a file is either a rate limit domain ('domain') or an authorization file ('providers', 'routes', 'default'), not both");
            return;
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

    /// <summary>Every file's path and content, key files included: a reload whose inputs did not change is skipped, one whose key file changed is not.</summary>
    /// <summary>
    /// Whether <paramref name="sources"/> are the inputs <paramref name="active"/> was compiled from: the same files
    /// with the same text, and its key files still holding the same bytes. Then compiling them would only find the
    /// active fingerprint again: the poll asks every 5 s, and a compile parses every YAML file and JWKS and allocates
    /// on the sidecar's CPU for nothing.
    /// </summary>
    public static bool SameInputs(IReadOnlyList<ConfigSource> sources, ConfigSnapshot active)
    {
        if (active.Fingerprint.Length == 0)
        {
            return false;
        }

        var keyFiles = new List<KeyFileRead>(active.KeyFiles.Count);
        foreach (var (configFile, path) in active.KeyFiles)
        {
            if (LocalKeys.ReadKeyFile(configFile, path, out _) is not { } bytes)
            {
                return false;
            }

            keyFiles.Add(new KeyFileRead(configFile, path, bytes));
        }

        return string.Equals(Fingerprint(sources, keyFiles), active.Fingerprint, StringComparison.Ordinal);
    }

    private static string Fingerprint(IReadOnlyList<ConfigSource> sources, IReadOnlyList<KeyFileRead> keyFiles)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var source in sources)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(source.Path));
            hash.AppendData([0]);
            hash.AppendData(Encoding.UTF8.GetBytes(source.Text));
            hash.AppendData([0]);
        }

        foreach (var (_, path, bytes) in keyFiles)
        {
            hash.AppendData(Encoding.UTF8.GetBytes(path));
            hash.AppendData([0]);
            hash.AppendData(bytes);
            hash.AppendData([0]);
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset())[..16];
    }
}
