namespace Sidecars.Load.Scenarios;

/// <summary>
/// A sidecar config directory written by <c>sidecars-load prepare</c>, and what the generator needs from it: the
/// signing key and a pool of pre-signed tokens, so a run spends no time signing.
/// </summary>
public sealed partial class PreparedConfig
{
    /// <summary>Users in the token pool and keys in the rate limit descriptors.</summary>
    public const int Users = 10_000;

    /// <summary>The config directory (pass it to <c>sidecars serve --config</c>).</summary>
    public string Directory { get; }

    /// <summary>One valid RS256 token per user, index = user number.</summary>
    public IReadOnlyList<string> Tokens { get; }

    private PreparedConfig(string directory, IReadOnlyList<string> tokens)
    {
        Directory = directory;
        Tokens = tokens;
    }

    /// <summary>Writes a fresh config into <paramref name="dir"/> (new key pair, new tokens valid 24 h) and returns it.</summary>
    public static PreparedConfig Prepare(string dir) => throw new NotImplementedException();

    /// <summary>Reads a directory written by <see cref="Prepare"/>.</summary>
    public static PreparedConfig Load(string dir) => throw new NotImplementedException();

    /// <summary>DIR/h2load/&lt;scenario&gt;.bin: one request as a gRPC length-prefixed frame.</summary>
    public string H2LoadBody(string scenario) => Path.Combine(Directory, "h2load", scenario + ".bin");

    /// <summary>DIR/h2load/&lt;scenario&gt;.expect.json: the gRPC path, frame sizes and the expected outcome.</summary>
    public string H2LoadExpect(string scenario) => Path.Combine(Directory, "h2load", scenario + ".expect.json");
}
