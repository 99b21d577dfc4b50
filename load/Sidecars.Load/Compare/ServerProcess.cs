using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Sidecars.Load.Model;

namespace Sidecars.Load.Compare;

/// <summary>
/// One server under test as a child process (the floor, the AOT sidecar or the JIT sidecar) on free loopback ports:
/// started, waited for on /readyz within a bound, sampled (RSS from /proc, /readyz "calls" and "runtime"), stopped.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly HttpClient _http;
    private readonly Stopwatch _clock;

    private ServerProcess(string label, Process process, int grpcPort, int httpPort, Stopwatch clock)
    {
        Label = label;
        _process = process;
        GrpcPort = grpcPort;
        HttpPort = httpPort;
        _clock = clock;
        _http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(5) };
    }

    public string Label { get; }

    public int GrpcPort { get; }

    public int HttpPort { get; }

    public int Pid => _process.Id;

    public string Endpoint => $"http://127.0.0.1:{GrpcPort}";

    /// <summary>Time since the process was spawned.</summary>
    public TimeSpan Age => _clock.Elapsed;

    /// <summary>
    /// Spawns <paramref name="command"/> with <c>--grpc</c> and <c>--http</c> on fresh loopback ports appended, its
    /// output into <paramref name="logFile"/>. Does not wait: <see cref="WaitReadyAsync"/> does.
    /// </summary>
    public static ServerProcess Start(string label, ServerCommand command, string logFile)
    {
        var grpcPort = FreePort();
        var httpPort = FreePort();
        var start = new ProcessStartInfo(command.FileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in command.Arguments)
        {
            start.ArgumentList.Add(arg);
        }

        start.ArgumentList.Add("--grpc");
        start.ArgumentList.Add($"127.0.0.1:{grpcPort}");
        start.ArgumentList.Add("--http");
        start.ArgumentList.Add($"127.0.0.1:{httpPort}");
        foreach (var (key, value) in command.Environment)
        {
            start.Environment[key] = value;
        }

        var clock = Stopwatch.StartNew();
        var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {command.FileName}");
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(logFile))!);
        var log = new StreamWriter(logFile, append: true) { AutoFlush = true };
        var gate = new Lock();
        var closed = false;
        void Write(string? line)
        {
            lock (gate)
            {
                // The end of both streams (a null line) closes the log; Exited can come before the last lines.
                if (closed)
                {
                    return;
                }

                if (line is null)
                {
                    closed = true;
                    log.Dispose();
                    return;
                }

                log.WriteLine(line);
            }
        }

        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { Write(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServerProcess(label, process, grpcPort, httpPort, clock);
    }

    /// <summary>Polls /readyz until it answers 200, the process exits, or <paramref name="bound"/> passes.</summary>
    public async Task WaitReadyAsync(TimeSpan bound)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < bound)
        {
            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Label} exited with code {_process.ExitCode} before it was ready (see its log)");
            }

            try
            {
                using var answer = await _http.GetAsync("/readyz").ConfigureAwait(false);
                if (answer.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(20).ConfigureAwait(false);
        }

        throw new TimeoutException($"{Label} was not ready on /readyz within {bound.TotalSeconds:F0} s");
    }

    /// <summary>The process's resident set (VmRSS in /proc/PID/status), in bytes.</summary>
    public long RssBytes()
    {
        foreach (var line in File.ReadLines($"/proc/{Pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                var kb = line["VmRSS:".Length..].Trim().Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
                return long.Parse(kb, CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidDataException($"/proc/{Pid}/status has no VmRSS line");
    }

    /// <summary>/readyz's "calls" and "runtime" objects (the floor serves the same two as the sidecar).</summary>
    public async Task<ReadyzCounters> ReadyzAsync()
    {
        // /readyz answers 503 while draining; its body is still the status.
        using var answer = await _http.GetAsync("/readyz").ConfigureAwait(false);
        var body = await answer.Content.ReadAsStringAsync().ConfigureAwait(false);
        return JsonSerializer.Deserialize(body, LoadJsonContext.Default.ReadyzCounters)
            ?? throw new InvalidDataException($"{Label} /readyz: empty body");
    }

    public async Task<ServerSample> SampleAsync(TimeSpan since)
    {
        var readyz = await ReadyzAsync().ConfigureAwait(false);
        var runtime = readyz.Runtime;
        return new ServerSample(
            since.TotalSeconds,
            RssBytes(),
            readyz.Calls ?? [],
            runtime?.Gen0 ?? 0,
            runtime?.Gen1 ?? 0,
            runtime?.Gen2 ?? 0,
            runtime?.GcPauseMs ?? 0,
            runtime?.HeapBytes ?? 0);
    }

    /// <summary>SIGTERM, then a kill if it has not exited within a few seconds.</summary>
    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        if (!_process.HasExited)
        {
            using (var kill = Process.Start("kill", ["-TERM", Pid.ToString(CultureInfo.InvariantCulture)]))
            {
                await kill.WaitForExitAsync().ConfigureAwait(false);
            }

            using var wait = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(wait.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                _process.Kill();
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        _process.Dispose();
    }

    // A port bind(0) hands out is ephemeral: the generator's own outgoing connections can take it as their source
    // port before the server binds it (a start-up spawn failed with "address already in use" that way). So ports come
    // from below Linux's ephemeral range (32768), in a band of their own: the tests' servers use 10000-20000 and
    // their Redis Cluster bus ports 20000-30000.
    private const int FirstPort = 30_000;
    private const int LastPort = 32_700;
    private static int _nextPort = Random.Shared.Next(FirstPort, LastPort);

    internal static int FreePort()
    {
        for (var attempt = 0; attempt < LastPort - FirstPort; attempt++)
        {
            var port = FirstPort + ((Interlocked.Increment(ref _nextPort) - FirstPort) % (LastPort - FirstPort));
            try
            {
                using var listener = new TcpListener(IPAddress.Loopback, port);
                listener.Start();
                return port;
            }
            catch (SocketException)
            {
                // Taken: the next one.
            }
        }

        throw new InvalidOperationException($"no free loopback port in {FirstPort}-{LastPort}");
    }
}

/// <summary>How to start one server: the executable, the arguments before <c>--grpc/--http</c>, extra environment.</summary>
public sealed record ServerCommand(string FileName, IReadOnlyList<string> Arguments, IReadOnlyDictionary<string, string> Environment)
{
    /// <summary>The floor: its AOT binary, or a JIT build when <paramref name="binary"/> is a .dll.</summary>
    public static ServerCommand Floor(string binary) => binary.EndsWith(".dll", StringComparison.Ordinal)
        ? new("dotnet", [binary], new Dictionary<string, string>())
        : new(binary, [], new Dictionary<string, string>());

    /// <summary>The sidecar: an AOT binary, or a JIT build when <paramref name="binary"/> is a .dll (run by <c>dotnet</c>).</summary>
    public static ServerCommand Sidecars(string binary, string configDirectory, string? redis)
    {
        List<string> args = binary.EndsWith(".dll", StringComparison.Ordinal) ? [binary] : [];
        args.AddRange(["serve", "--config", configDirectory]);
        if (redis is not null)
        {
            args.AddRange(["--redis", redis]);
        }

        // Every other setting at its default: the product is measured as it ships.
        return new(binary.EndsWith(".dll", StringComparison.Ordinal) ? "dotnet" : binary, args, new Dictionary<string, string>());
    }
}
