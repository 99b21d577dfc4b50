using System.Text;

namespace Sidecars.Config;

/// <summary>
/// Text that goes into a config error: one line, bounded, and written by us rather than taken from a framework
/// message (the AOT binary may be built without the framework's message resources).
/// </summary>
public static class ConfigText
{
    private const int MaxShown = 64;
    private const int MaxMessage = 1000;

    /// <summary>A value from the config as shown inside a message: at most 64 characters, control characters escaped.</summary>
    public static string Shown(string? value)
    {
        if (value is null)
        {
            return string.Empty;
        }

        var text = value.Length > MaxShown ? value[..MaxShown] + $"…({value.Length} characters)" : value;
        return OneLine(text);
    }

    /// <summary>Escapes line breaks and other control characters and bounds the length, so an error stays one line.</summary>
    public static string OneLine(string text)
    {
        var clean = true;
        foreach (var c in text)
        {
            if (char.IsControl(c) || char.IsSurrogate(c))
            {
                clean = false;
                break;
            }
        }

        if (clean && text.Length <= MaxMessage)
        {
            return text;
        }

        var builder = new StringBuilder(Math.Min(text.Length, MaxMessage) + 16);
        for (var i = 0; i < text.Length && builder.Length < MaxMessage; i++)
        {
            var c = text[i];
            if (char.IsHighSurrogate(c) && i + 1 < text.Length && char.IsLowSurrogate(text[i + 1]))
            {
                builder.Append(c).Append(text[++i]);
            }
            else if (char.IsControl(c) || char.IsSurrogate(c))
            {
                builder.Append(c switch { '\n' => "\\n", '\r' => "\\r", '\t' => "\\t", _ => $"\\u{(int)c:X4}" });
            }
            else
            {
                builder.Append(c);
            }
        }

        if (builder.Length >= MaxMessage)
        {
            builder.Append('…');
        }

        return builder.ToString();
    }

    /// <summary>
    /// An exception a user can cause, in our words. I/O errors are named by their errno (on Unix .NET keeps it
    /// in <see cref="Exception.HResult"/>), the rest by type, with the framework message only as a last resort.
    /// </summary>
    public static string Describe(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file or directory",
        UnauthorizedAccessException => "permission denied",
        PathTooLongException => "path too long",
        IOException io => io.HResult switch
        {
            2 => "no such file or directory",
            5 => "input/output error",
            6 => "no such device or address (a socket or device is not a config file)",
            13 => "permission denied",
            20 => "a component of the path is not a directory",
            21 => "is a directory",
            23 or 24 => "too many open files (the process is out of file descriptors); retried at the next reload",
            40 => "too many levels of symbolic links",
            _ => "I/O error: " + OneLine(io.Message),
        },
        OutOfMemoryException or InsufficientExecutionStackException => "the config is too large to load",
        _ => $"{e.GetType().Name}: {OneLine(e.Message)}",
    };
}
