namespace Sidecars.Load.Report;

/// <summary><c>sidecars-load report --in DIR</c>: renders DIR/report.html and the console table again from DIR/report.json.</summary>
public static class ReportCommand
{
    public static int Run(string[] args)
    {
        var directory = "artifacts/load";
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--in" when i + 1 < args.Length:
                    directory = args[++i];
                    break;
                default:
                    Console.Error.WriteLine($"report: unknown option '{args[i]}' (usage: sidecars-load report [--in DIR])");
                    return 2;
            }
        }

        var report = ReportFiles.Read(directory);
        var soak = Path.Combine(directory, "soak.json");
        if (report.Soak is null && File.Exists(soak))
        {
            report.Soak = System.Text.Json.JsonSerializer.Deserialize(File.ReadAllText(soak), ReportJsonContext.Default.SoakReport);
        }

        ReportFiles.Write(report, directory);
        Console.Out.Write(ConsoleTable.Render(report));
        Console.Out.WriteLine($"wrote {Path.Combine(directory, "report.html")}");
        return 0;
    }
}
