using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Sidecars.Load.Compare;

/// <summary>load/budgets.yaml, read through YamlDotNet's representation model (no reflection deserializer).</summary>
public sealed record Budgets(
    IReadOnlyDictionary<string, double> MaxThroughput,
    IReadOnlyList<string> OpenLoopScenarios,
    double P99Ratio,
    double P99SlackMilliseconds,
    double P999Ratio,
    long MaxUnanswered,
    double MemoryLoadSeconds,
    double AfterLoadOverIdle,
    double IdleRssMegabytes,
    int StartupSamples,
    double StartupOverFloor,
    double StartupFasterThanJit)
{
    public static Budgets Load(string path)
    {
        var stream = new YamlStream();
        using (var reader = new StreamReader(path))
        {
            stream.Load(reader);
        }

        var root = (YamlMappingNode)stream.Documents[0].RootNode;
        var throughput = Map(root, "max_throughput", path);
        var open = Map(root, "open_loop", path);
        var memory = Map(root, "memory", path);
        var startup = Map(root, "startup", path);
        return new Budgets(
            throughput.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => Number(c.Value, path)),
            [.. ((YamlSequenceNode)Child(open, "scenarios", path)).Children.Select(n => ((YamlScalarNode)n).Value!)],
            Number(Child(open, "p99_ratio", path), path),
            Number(Child(open, "p99_slack_ms", path), path),
            Number(Child(open, "p999_ratio", path), path),
            (long)Number(Child(open, "max_unanswered", path), path),
            Number(Child(memory, "load_seconds", path), path),
            Number(Child(memory, "after_load_over_idle", path), path),
            Number(Child(memory, "idle_rss_mb", path), path),
            (int)Number(Child(startup, "samples", path), path),
            Number(Child(startup, "over_floor", path), path),
            Number(Child(startup, "faster_than_jit", path), path));
    }

    private static YamlMappingNode Map(YamlMappingNode parent, string key, string path) =>
        Child(parent, key, path) as YamlMappingNode ?? throw new InvalidDataException($"{path}: '{key}' must be a mapping");

    private static YamlNode Child(YamlMappingNode parent, string key, string path) =>
        parent.Children.TryGetValue(new YamlScalarNode(key), out var node)
            ? node
            : throw new InvalidDataException($"{path}:{parent.Start.Line}:{parent.Start.Column}: '{key}' is missing");

    private static double Number(YamlNode node, string path) =>
        node is YamlScalarNode { Value: { } text } && double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw new InvalidDataException($"{path}:{node.Start.Line}:{node.Start.Column}: expected a number");
}
