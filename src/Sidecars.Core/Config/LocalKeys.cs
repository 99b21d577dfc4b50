using System.Text;
using System.Text.Json;
using Sidecars.Authentication;
using Sidecars.Authorization.Config;

namespace Sidecars.Config;

/// <summary>
/// Loads <c>local_jwks</c> keys (a file in the config directory, or inline JSON) into their providers at compile
/// time. A key file is read under the config files' rules (regular file, <see cref="ConfigLimits.MaxFileBytes"/>)
/// and only from inside the config directory: with per-service files, a service owner must not be able to point
/// the sidecar at the host's files (<c>/etc/passwd</c>, <c>/dev/zero</c>).
/// </summary>
internal static class LocalKeys
{
    /// <summary>Returns the key files read, for the snapshot's fingerprint.</summary>
    public static IReadOnlyList<KeyFileRead> Load(List<AuthYamlParser.FileDefinition> files, ConfigDiagnostics diagnostics)
    {
        var read = new List<KeyFileRead>();
        foreach (var file in files)
        {
            foreach (var (policy, node) in file.Providers)
            {
                var keys = policy.Keys;
                if (keys.LocalFile is null && keys.LocalInline is null)
                {
                    continue;
                }

                var name = ConfigText.Shown(policy.Provider.Name);
                var where = keys.LocalInline is not null ? "local_jwks 'inline'" : $"local_jwks file '{ConfigText.Shown(keys.LocalFile)}'";
                byte[] json;
                if (keys.LocalInline is { } inline)
                {
                    json = Encoding.UTF8.GetBytes(inline);
                }
                else if (ReadKeyFile(file.File, keys.LocalFile!, out var error) is { } bytes)
                {
                    json = bytes;
                    read.Add(new KeyFileRead(file.File, keys.LocalFile!, bytes));
                }
                else
                {
                    diagnostics.Add(file.File, node, $"provider '{name}': {where} {error}");
                    continue;
                }

                try
                {
                    var parsed = JwksParser.Parse(json, out var skipped, allowSymmetric: true);
                    if (parsed.Count == 0)
                    {
                        var why = skipped.Count == 0 ? "its 'keys' array is empty" : string.Join("; ", skipped.Take(3));
                        diagnostics.Add(file.File, node, $"provider '{name}': {where} holds no usable key: {why}");
                    }

                    policy.Provider.SetKeys(parsed);
                }
                catch (JsonException e)
                {
                    // Our words and the JSON position: the framework's message spans lines and may be a bare resource key in the AOT binary.
                    var position = e.LineNumber is { } line ? $" at its line {line + 1}, byte {(e.BytePositionInLine ?? 0) + 1}" : string.Empty;
                    diagnostics.Add(file.File, node, $"provider '{name}': {where} is not valid JSON{position}");
                }
                catch (FormatException e)
                {
                    // JwksParser's own message (e.g. "a JWKS is a JSON object with a 'keys' array").
                    diagnostics.Add(file.File, node, $"provider '{name}': {where} is not a JWKS: {e.Message}");
                }
#pragma warning disable CA1031 // Whatever a key document makes the parser throw is this provider's located error.
                catch (Exception e)
#pragma warning restore CA1031
                {
                    diagnostics.Add(file.File, node, $"provider '{name}': {where} holds a key that cannot be used ({ConfigText.Describe(e)})");
                }
            }
        }

        return read;
    }

    internal static byte[]? ReadKeyFile(string configFile, string keyFile, out string? error)
    {
        // A directory given relative to the working directory (`--config ./config`) names its files relatively;
        // the embedded example's names are relative too, but no such file is on disk.
        if (!Path.IsPathFullyQualified(configFile) && File.Exists(configFile))
        {
            configFile = Path.GetFullPath(configFile);
        }

        var directory = Path.GetDirectoryName(configFile);
        if (string.IsNullOrEmpty(directory) || !Path.IsPathFullyQualified(configFile))
        {
            error = "cannot be read: this config does not come from a directory";
            return null;
        }

        if (Path.IsPathRooted(keyFile))
        {
            error = "must be a path relative to the config directory";
            return null;
        }

        var path = Path.GetFullPath(Path.Combine(directory, keyFile));
        if (!ConfigFileReader.IsInside(directory, path))
        {
            error = "must be inside the config directory (after resolving '..' and symbolic links)";
            return null;
        }

        return ConfigFileReader.ReadRegularFile(path, ConfigLimits.MaxFileBytes, out error);
    }
}

/// <summary>A key file a config file names (<paramref name="Path"/> as written, relative to <paramref name="ConfigFile"/>'s directory) and what it held.</summary>
public sealed record KeyFileRead(string ConfigFile, string Path, byte[] Bytes);
