using YamlDotNet.Core;
using YamlDotNet.Core.Events;

namespace Sidecars.Config;

/// <summary>
/// A streaming pass over a file's YAML events before the representation model is built. YamlDotNet's model
/// recurses once per nesting level (100,000 nested <c>[</c> overflow the stack) and shares an aliased node
/// where our parsers walk it once per use (an alias bomb expands 1 KB into millions of limits; an alias
/// inside its own anchor never ends). This pass costs one node per event and stops at the first of: nesting
/// deeper than <see cref="ConfigLimits.MaxDepth"/> counted through aliases, more than
/// <see cref="ConfigLimits.MaxNodesPerFile"/> nodes once aliases are expanded, an alias inside its own
/// anchor, or a scalar longer than <see cref="ConfigLimits.MaxScalarLength"/>.
/// </summary>
internal static class YamlGuard
{
    private sealed class Frame(string? anchor)
    {
        public string? Anchor { get; } = anchor;

        public long Nodes { get; set; } = 1;

        /// <summary>Most collection levels among the children, aliases expanded (the node itself is one more).</summary>
        public int Height { get; set; }
    }

    /// <summary>Returns the file's node count with aliases expanded, or -1 after reporting why it is refused.</summary>
    public static long Check(ConfigSource source, ConfigDiagnostics diagnostics)
    {
        var parser = new Parser(new StringReader(source.Text));
        var stack = new List<Frame>();
        var anchors = new Dictionary<string, (long Nodes, int Height)>(StringComparer.Ordinal);
        long total = 0;
        ParsingEvent? last = null;
        try
        {
            while (parser.MoveNext())
            {
                var current = parser.Current!;
                last = current;
                long nodes;
                int height;
                switch (current)
                {
                    case MappingStart or SequenceStart:
                        var anchor = current is MappingStart m ? m.Anchor : ((SequenceStart)current).Anchor;
                        if (stack.Count + 1 > ConfigLimits.MaxDepth)
                        {
                            return Refuse(source, diagnostics, current, $"nesting is deeper than {ConfigLimits.MaxDepth} levels");
                        }

                        stack.Add(new Frame(anchor.IsEmpty ? null : anchor.Value));
                        total++;
                        continue;
                    case MappingEnd or SequenceEnd:
                        var done = stack[^1];
                        stack.RemoveAt(stack.Count - 1);
                        nodes = done.Nodes;
                        height = done.Height + 1;
                        if (done.Anchor is not null)
                        {
                            anchors[done.Anchor] = (nodes, height);
                        }

                        break;
                    case Scalar scalar:
                        if (scalar.Value.Length > ConfigLimits.MaxScalarLength)
                        {
                            return Refuse(source, diagnostics, current, $"a value longer than {ConfigLimits.MaxScalarLength} characters ({scalar.Value.Length})");
                        }

                        if (Unusable(scalar.Value) is { } why)
                        {
                            return Refuse(source, diagnostics, current, why);
                        }

                        if (!scalar.Anchor.IsEmpty)
                        {
                            anchors[scalar.Anchor.Value] = (1, 0);
                        }

                        nodes = 1;
                        height = 0;
                        total++;
                        break;
                    case AnchorAlias alias:
                        var name = alias.Value.Value;
                        if (stack.Exists(f => f.Anchor == name) && !anchors.ContainsKey(name))
                        {
                            return Refuse(source, diagnostics, current, $"alias '*{ConfigText.Shown(name)}' is used inside its own anchor (a cycle)");
                        }

                        if (!anchors.TryGetValue(name, out var anchored))
                        {
                            return Refuse(source, diagnostics, current, $"alias '*{ConfigText.Shown(name)}' names no anchor defined before it");
                        }

                        if (stack.Count + anchored.Height > ConfigLimits.MaxDepth)
                        {
                            return Refuse(source, diagnostics, current, $"alias '*{ConfigText.Shown(name)}' nests the config deeper than {ConfigLimits.MaxDepth} levels");
                        }

                        nodes = anchored.Nodes;
                        height = anchored.Height;
                        total += nodes;
                        break;
                    default:
                        continue;
                }

                if (stack.Count > 0)
                {
                    var parent = stack[^1];
                    parent.Nodes += nodes;
                    parent.Height = Math.Max(parent.Height, height);
                }

                if (total > ConfigLimits.MaxNodesPerFile)
                {
                    return Refuse(source, diagnostics, current, $"more than {ConfigLimits.MaxNodesPerFile} YAML nodes once aliases are expanded");
                }
            }
        }
        catch (YamlException)
        {
            // Reported with its position when the document is loaded; everything before it was within bounds.
        }
#pragma warning disable CA1031 // YamlDotNet's scanner throws InvalidOperationException on some malformed input: this file's located error.
        catch (Exception e)
#pragma warning restore CA1031
        {
            var (line, column) = last is null ? (1, 1) : ((int)last.End.Line, (int)last.End.Column);
            diagnostics.Add(source.Path, line, column, $"invalid YAML: the parser stopped after this point ({ConfigText.Describe(e)}); look for an unclosed bracket or brace or a stray character just after it");
            return -1;
        }

        return total;
    }

    /// <summary>
    /// Escapes in double-quoted scalars can make what the file's bytes cannot: an unpaired surrogate (<c>"\ud800"</c>),
    /// which throws wherever the value is later encoded (a claim name looked up in a token, a Redis key), or a NUL.
    /// </summary>
    private static string? Unusable(string value)
    {
        for (var i = 0; i < value.Length; i++)
        {
            var c = value[i];
            if (c == '\0')
            {
                return "a value holds a NUL character";
            }

            if (char.IsHighSurrogate(c) && i + 1 < value.Length && char.IsLowSurrogate(value[i + 1]))
            {
                i++;
            }
            else if (char.IsSurrogate(c))
            {
                return $"a value holds an unpaired surrogate (\\u{(int)c:X4}); config text must be valid Unicode";
            }
        }

        return null;
    }

    private static long Refuse(ConfigSource source, ConfigDiagnostics diagnostics, ParsingEvent at, string why)
    {
        diagnostics.Add(source.Path, (int)at.Start.Line, (int)at.Start.Column, "config refused: " + why);
        return -1;
    }
}
