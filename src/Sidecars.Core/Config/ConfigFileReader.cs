using System.Buffers;
using System.Text.Unicode;

namespace Sidecars.Config;

/// <summary>
/// Reads config and key files from disk the only safe way for a reloader: regular files only (a FIFO would
/// block the reload forever, <c>/dev/zero</c> would never end), a size cap checked before and while reading,
/// and strict UTF-8 (a bad byte is an error at its position, never a silent U+FFFD).
/// </summary>
public static class ConfigFileReader
{
    private static ReadOnlySpan<byte> Utf8Bom => [0xEF, 0xBB, 0xBF];

    /// <summary>
    /// The bytes of <paramref name="path"/>, or null with <paramref name="error"/> set. Symbolic links are followed
    /// to their final target (a Kubernetes ConfigMap is symlinks into <c>..data</c>), which must be a regular file.
    /// </summary>
    /// <remarks>
    /// .NET does not expose the file type, but on Linux every non-regular file (FIFO, socket, character or block
    /// device, and <c>/proc</c> files) has a size of 0 in stat(2), while an empty regular file is no config either:
    /// so a size of 0 is never opened, and opening — the call that blocks on a FIFO — only happens for a file that
    /// reports content. A file swapped for a FIFO between the two calls is not covered.
    /// </remarks>
    public static byte[]? ReadRegularFile(string path, int maxBytes, out string? error)
    {
        try
        {
            var info = new FileInfo(path);
            if (info.LinkTarget is not null)
            {
                if (info.ResolveLinkTarget(returnFinalTarget: true) is not FileInfo target || !target.Exists)
                {
                    error = "is a symbolic link to nothing, or to something that is not a file";
                    return null;
                }

                info = target;
            }

            if (!info.Exists)
            {
                error = Directory.Exists(info.FullName) ? "is a directory, not a file" : "does not exist";
                return null;
            }

            if (info.Length == 0)
            {
                error = "is empty, or is not a regular file (a FIFO, socket or device is never read)";
                return null;
            }

            if (info.Length > maxBytes)
            {
                error = $"is larger than {maxBytes} bytes ({info.Length} bytes)";
                return null;
            }

            // The size can change between stat and read: read at most one byte more than allowed.
            using var stream = new FileStream(info.FullName, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, bufferSize: 0);
            var buffer = ArrayPool<byte>.Shared.Rent(maxBytes + 1);
            try
            {
                var total = 0;
                int read;
                while (total <= maxBytes && (read = stream.Read(buffer, total, maxBytes + 1 - total)) > 0)
                {
                    total += read;
                }

                if (total > maxBytes)
                {
                    error = $"is larger than {maxBytes} bytes";
                    return null;
                }

                error = null;
                return buffer.AsSpan(0, total).ToArray();
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
#pragma warning disable CA1031 // The file system is outside input: whatever it throws becomes a located error.
        catch (Exception e)
#pragma warning restore CA1031
        {
            error = "cannot be read: " + ConfigText.Describe(e);
            return null;
        }
    }

    /// <summary>
    /// Decodes strict UTF-8 (a leading byte order mark is dropped). An invalid byte, a UTF-16 file, a NUL or another
    /// control character YAML does not allow is reported at its line and column, and null is returned.
    /// </summary>
    public static string? Decode(string file, ReadOnlySpan<byte> bytes, ConfigDiagnostics diagnostics)
    {
        if (bytes.StartsWith(Utf8Bom))
        {
            bytes = bytes[Utf8Bom.Length..];
        }
        else if (bytes.Length >= 2 && ((bytes[0] == 0xFF && bytes[1] == 0xFE) || (bytes[0] == 0xFE && bytes[1] == 0xFF)))
        {
            diagnostics.Add(file, 1, 1, "file is UTF-16 (it starts with a UTF-16 byte order mark); a config file is UTF-8");
            return null;
        }

        var chars = new char[bytes.Length];
        var status = Utf8.ToUtf16(bytes, chars, out var bytesRead, out var written, replaceInvalidSequences: false, isFinalBlock: true);
        var text = chars.AsSpan(0, written);
        if (status != System.Buffers.OperationStatus.Done)
        {
            var (line, column) = Position(text, written);
            diagnostics.Add(file, line, column, $"invalid UTF-8 (byte 0x{bytes[bytesRead]:X2} at offset {bytesRead}); a config file is UTF-8");
            return null;
        }

        // YAML 1.2 §5.1: of the C0 controls only tab, LF and CR may appear; DEL neither.
        for (var i = 0; i < text.Length; i++)
        {
            var c = text[i];
            if ((c < 0x20 && c is not ('\t' or '\n' or '\r')) || c == 0x7F)
            {
                var (line, column) = Position(text, i);
                var name = c == 0 ? "a NUL byte" : $"control character U+{(int)c:X4}";
                diagnostics.Add(file, line, column, $"{name} is not allowed in a config file");
                return null;
            }
        }

        return new string(text);
    }

    /// <summary>1-based line and column (in characters) of <paramref name="index"/>, as YamlDotNet counts them.</summary>
    private static (int Line, int Column) Position(ReadOnlySpan<char> text, int index)
    {
        var before = text[..index];
        var line = before.Count('\n') + 1;
        var column = index - (before.LastIndexOf('\n') + 1) + 1;
        return (line, column);
    }

    /// <summary>Whether <paramref name="path"/>, with every symbolic link resolved, lies inside <paramref name="directory"/> (also resolved).</summary>
    public static bool IsInside(string directory, string path)
    {
        var root = RealPath(directory);
        var target = RealPath(path);
        if (root is null || target is null)
        {
            return false;
        }

        var prefix = Path.EndsInDirectorySeparator(root) ? root : root + Path.DirectorySeparatorChar;
        return target.StartsWith(prefix, StringComparison.Ordinal);
    }

    /// <summary>realpath(3) over .NET's link APIs: each component resolved in turn, at most 40 links (as Linux's ELOOP).</summary>
    internal static string? RealPath(string path, int hops = 0)
    {
        var full = Path.GetFullPath(path);
        var root = Path.GetPathRoot(full) ?? "/";
        var parts = full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries);
        var current = root;
        for (var i = 0; i < parts.Length; i++)
        {
            var next = Path.Join(current, parts[i]);
            string? link;
            try
            {
                link = new FileInfo(next).LinkTarget;
            }
            catch (IOException)
            {
                link = null;
            }

            if (link is null)
            {
                current = next;
                continue;
            }

            if (hops >= 40)
            {
                return null;
            }

            var resolved = Path.IsPathRooted(link) ? link : Path.Join(current, link);
            return RealPath(Path.Join(resolved, string.Join(Path.DirectorySeparatorChar, parts[(i + 1)..])), hops + 1);
        }

        return current;
    }
}
