using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;

namespace Sidecars.Server.Hosting;

/// <summary>
/// Binds <see cref="SidecarsOptions"/> (the source-generated, AOT-safe binder) and turns what an operator can get
/// wrong into one line (issue 7, finding 14): a value of the wrong type names the setting, its environment
/// variable, the value and what is expected; a key that matches no setting is reported, not silently ignored.
/// </summary>
internal static partial class SettingsBinder
{
    /// <summary>The binder's message, as generated into this assembly: "... value 'x' at 'Sidecars:A:B' to type 'System.Boolean'."</summary>
    [GeneratedRegex("at '(?<path>[^']+)' to type '(?<type>[^']+)'")]
    private static partial Regex ConversionFailure();

    public static SidecarsOptions Bind(IConfigurationSection section, out List<string> unknownSettings)
    {
        SidecarsOptions settings;
        try
        {
            settings = section.Get<SidecarsOptions>() ?? new SidecarsOptions();
        }
        catch (InvalidOperationException e) when (ConversionFailure().Match(e.Message) is { Success: true } match)
        {
            var path = match.Groups["path"].Value;
            throw new StartupException($"setting {path} ({EnvironmentName(path)}) = '{Value(section, path)}' is not {Expected(match.Groups["type"].Value)}");
        }

        settings.Connections.Validate();
        if (settings.Config is { Length: > 0 } config && File.Exists(config))
        {
            throw new StartupException($"setting {SidecarsOptions.Section}:Config (--config) = '{config}' is not a directory");
        }

        if (settings.UnixSocketMode is { Length: > 0 } mode && ParseMode(mode) is null)
        {
            throw new StartupException($"setting {SidecarsOptions.Section}:UnixSocketMode = '{mode}' is not an octal file mode from 0000 to 0777 (e.g. 0660)");
        }

        unknownSettings = Unknown(section);
        return settings;
    }

    /// <summary>Octal <c>0660</c> / <c>660</c> as a file mode; null when it is not one.</summary>
    public static UnixFileMode? ParseMode(string text)
    {
        var digits = text.StartsWith("0o", StringComparison.OrdinalIgnoreCase) ? text[2..] : text;
        if (digits.Length is < 3 or > 4 || !digits.All(c => c is >= '0' and <= '7'))
        {
            return null;
        }

        var value = Convert.ToInt32(digits, 8);
        return value > 0x1FF ? null : (UnixFileMode)value;
    }

    /// <summary>
    /// Each key is bound alone with <c>ErrorOnUnknownConfiguration</c>, which the generated binder checks against the
    /// property names it was generated for: no reflection, and a property added to the options is known at once.
    /// </summary>
    private static List<string> Unknown(IConfigurationSection section)
    {
        var unknown = new List<string>();
        foreach (var (key, value) in section.AsEnumerable(makePathsRelative: true))
        {
            if (value is null)
            {
                continue;
            }

            var probe = new ConfigurationBuilder().AddInMemoryCollection([new(key, value)]).Build();
            try
            {
                probe.Get<SidecarsOptions>(o => o.ErrorOnUnknownConfiguration = true);
            }
            catch (InvalidOperationException)
            {
                unknown.Add(section.Path + ":" + key);
            }
        }

        return unknown;
    }

    private static string? Value(IConfigurationSection section, string path) =>
        path.StartsWith(section.Path + ":", StringComparison.OrdinalIgnoreCase) ? section[path[(section.Path.Length + 1)..]] : null;

    /// <summary><c>Sidecars:Headers:Enabled</c> → <c>SIDECARS__HEADERS__ENABLED</c>.</summary>
    public static string EnvironmentName(string path) => path.Replace(":", "__", StringComparison.Ordinal).ToUpperInvariant();

    private static string Expected(string type) => type switch
    {
        "System.Boolean" => "a boolean (true or false)",
        "System.Int32" or "System.Int64" => "an integer",
        "System.Double" => "a number (e.g. 0.1)",
        "System.TimeSpan" => "a duration ([d.]hh:mm:ss[.fff], e.g. 00:00:05)",
        _ when type.EndsWith("BackendErrorPolicy", StringComparison.Ordinal) => "one of Allow, Deny, Local",
        _ => "a valid " + type[(type.LastIndexOf('.') + 1)..].ToLower(CultureInfo.InvariantCulture),
    };
}
