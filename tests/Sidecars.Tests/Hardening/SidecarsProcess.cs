using System.Diagnostics;
using System.Globalization;
using System.Text;
using Sidecars.Tests.Infrastructure;
using Sidecars.Tests.Server;

namespace Sidecars.Tests.Hardening;

/// <summary>
/// The server as an operator runs it: a child process, its exit code, stdout and stderr. By default the JIT build
/// (<c>dotnet sidecars.dll</c> beside the tests); <see cref="Aot"/> runs the native AOT binary of scripts/test.sh.
/// <c>SIDECARS_PROCESS_BINARY</c> points every process test at another binary (e.g. an older build, to see a test fail).
/// </summary>
internal sealed class SidecarsProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly Task _readers;

    private SidecarsProcess(Process process)
    {
        _process = process;
        _readers = Task.WhenAll(Pump(process.StandardOutput, _stdout), Pump(process.StandardError, _stderr));
    }

    public string Stdout { get { lock (_stdout) { return _stdout.ToString(); } } }

    public string Stderr { get { lock (_stderr) { return _stderr.ToString(); } } }

    public int Id => _process.Id;

    public static ProcessStartInfo StartInfo(IEnumerable<string> args, IDictionary<string, string>? environment = null, bool aot = false, string? shellPrefix = null)
    {
        var (file, prefix) = Command(aot);
        IEnumerable<string> all = [.. prefix, .. args];
        ProcessStartInfo start;
        if (shellPrefix is not null)
        {
            // e.g. "ulimit -Sn 256": the shell sets the limit, then becomes the server.
            start = new ProcessStartInfo("bash", ["-c", shellPrefix + "; exec \"$0\" \"$@\"", file, .. all]);
        }
        else
        {
            start = new ProcessStartInfo(file, all);
        }

        start.RedirectStandardOutput = true;
        start.RedirectStandardError = true;
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            start.Environment[key] = value;
        }

        return start;
    }

    private static (string File, string[] Prefix) Command(bool aot)
    {
        if (Environment.GetEnvironmentVariable("SIDECARS_PROCESS_BINARY") is { Length: > 0 } binary)
        {
            return (binary, []);
        }

        return aot ? (AotBinary.Path(), []) : ("dotnet", [Path.Combine(AppContext.BaseDirectory, "sidecars.dll")]);
    }

    public static SidecarsProcess Start(IEnumerable<string> args, IDictionary<string, string>? environment = null, bool aot = false, string? shellPrefix = null) =>
        new(Process.Start(StartInfo(args, environment, aot, shellPrefix))!);

    /// <summary>A command that ends by itself (validate, --help, a failed start): exit code and both streams.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(IEnumerable<string> args, IDictionary<string, string>? environment = null, bool aot = false)
    {
        await using var process = Start(args, environment, aot);
        var exited = await process.WaitForExitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exited, "the process did not exit within 60 s; stdout: " + process.Stdout);
        return (process._process.ExitCode, process.Stdout, process.Stderr);
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cancel.Token);
            await _readers;
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public int ExitCode => _process.ExitCode;

    /// <summary>Waits until stdout holds <paramref name="text"/> (bounded); false if the process exits or time runs out.</summary>
    public async Task<bool> WaitForOutputAsync(string text, TimeSpan? timeout = null) =>
        await Eventually.TrueAsync(() => Task.FromResult(Stdout.Contains(text, StringComparison.Ordinal) || _process.HasExited), timeout ?? TimeSpan.FromSeconds(30))
        && Stdout.Contains(text, StringComparison.Ordinal);

    /// <summary>SIGTERM, as an orchestrator stops it; true if it exited within the bound.</summary>
    public async Task<bool> TerminateAsync()
    {
        if (_process.HasExited)
        {
            return true;
        }

        Process.Start("kill", ["-TERM", _process.Id.ToString(CultureInfo.InvariantCulture)])!.WaitForExit();
        return await WaitForExitAsync(TimeSpan.FromSeconds(20));
    }

    public void Kill()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit(10_000);
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!await TerminateAsync())
        {
            Kill();
        }

        _process.Dispose();
    }

    private static async Task Pump(StreamReader reader, StringBuilder into)
    {
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer)) > 0)
        {
            lock (into)
            {
                into.Append(buffer, 0, read);
            }
        }
    }
}
