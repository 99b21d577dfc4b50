using Sidecars.Config;

namespace Sidecars.Server.Config;

/// <summary>The example config compiled into the binary, served when no config directory is given.</summary>
internal static class EmbeddedConfig
{
    private const string Prefix = "examples/config/";

    /// <summary>Decoded as strictly as files on disk (UTF-8, no NUL), so the example cannot hold what a file may not.</summary>
    public static IReadOnlyList<ConfigSource> Read(ConfigDiagnostics diagnostics)
    {
        var assembly = typeof(EmbeddedConfig).Assembly;
        var sources = new List<ConfigSource>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var memory = new MemoryStream();
            stream.CopyTo(memory);
            var path = "embedded:" + name;
            if (ConfigFileReader.Decode(path, memory.GetBuffer().AsSpan(0, (int)memory.Length), diagnostics) is { } text)
            {
                sources.Add(new ConfigSource(path, text));
            }
        }

        return sources;
    }
}
