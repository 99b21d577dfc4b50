using System.Reflection;
using System.Text;
using System.Text.Json;

namespace Sidecars.Load.Report;

/// <summary>
/// report.html: one self-contained file (inline CSS, inline JS, the report as inline JSON) because nothing outside
/// is reachable where it is opened (CI, this machine). The JS draws the charts as SVG.
/// </summary>
public static class HtmlReport
{
    public static string Render(LoadReport report)
    {
        // The default encoder escapes '<', '>' and '&', so the JSON cannot close the script element it sits in.
        var json = JsonSerializer.Serialize(report, ReportJsonContext.Default.LoadReport);
        var html = new StringBuilder(json.Length + 32_000);
        html.Append("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Sidecars load report</title>\n<style>\n")
            .Append(Resource("report.css"))
            .Append("</style>\n</head>\n<body>\n<div id=\"report\"></div>\n<script type=\"application/json\" id=\"report-data\">")
            .Append(json)
            .Append("</script>\n<script>\n")
            .Append(Resource("report.js"))
            .Append("</script>\n</body>\n</html>\n");
        return html.ToString();
    }

    private static string Resource(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"embedded resource {name} is missing from the build");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }
}
