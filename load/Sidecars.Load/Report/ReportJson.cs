using System.Text.Json;
using System.Text.Json.Serialization;
using Sidecars.Load.Model;

namespace Sidecars.Load.Report;

/// <summary>report.json and soak.json, source-generated (no reflection): the tool may be published AOT like the servers.</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(LoadReport))]
[JsonSerializable(typeof(SoakReport))]
[JsonSerializable(typeof(RunResult))]
public sealed partial class ReportJsonContext : JsonSerializerContext;

public static class ReportFiles
{
    public static void Write(LoadReport report, string directory)
    {
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "report.json"), JsonSerializer.Serialize(report, ReportJsonContext.Default.LoadReport));
        File.WriteAllText(Path.Combine(directory, "report.html"), HtmlReport.Render(report));
    }

    public static LoadReport Read(string directory)
    {
        var path = Path.Combine(directory, "report.json");
        return JsonSerializer.Deserialize(File.ReadAllText(path), ReportJsonContext.Default.LoadReport)
            ?? throw new InvalidDataException($"{path}: empty report");
    }
}
