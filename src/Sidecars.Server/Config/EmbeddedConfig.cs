using Sidecars.Config;

namespace Sidecars.Server.Config;

/// <summary>The example config compiled into the binary, served when no config directory is given.</summary>
internal static class EmbeddedConfig
{
    private const string Prefix = "examples/config/";

    public static IReadOnlyList<ConfigSource> Read()
    {
        var assembly = typeof(EmbeddedConfig).Assembly;
        var sources = new List<ConfigSource>();
        foreach (var name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            using var stream = assembly.GetManifestResourceStream(name)!;
            using var reader = new StreamReader(stream);
            sources.Add(new ConfigSource("embedded:" + name, reader.ReadToEnd()));
        }

        return sources;
    }
}
