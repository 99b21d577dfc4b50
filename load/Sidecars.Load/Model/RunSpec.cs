namespace Sidecars.Load.Model;

/// <summary>How calls are issued: on a fixed schedule (open), or as fast as answers come back (closed).</summary>
public enum LoopMode
{
    /// <summary>Calls start on a fixed schedule; latency counts from the scheduled start (no coordinated omission).</summary>
    Open,

    /// <summary>A fixed number of calls in flight; finds the maximum throughput.</summary>
    Closed,
}

/// <summary>The generator's HTTP/2 client: the raw transport (default) or Grpc.Net.Client.</summary>
public enum ClientKind
{
    /// <summary>The load tool's own HTTP/2 client (Generator/Http2): little CPU per call.</summary>
    H2,

    /// <summary>Grpc.Net.Client over SocketsHttpHandler: about 250 µs of CPU per call on a 2-core VM.</summary>
    Grpc,
}

/// <summary>One measured run of one scenario against one server.</summary>
/// <param name="Scenario">A scenario name: check-cached, check-cold, check-deny, rls-memory-1, rls-memory-3, rls-redis-1, rls-redis-3, mixed.</param>
/// <param name="Target">What is measured: "floor" or "sidecars" (a label, also "sidecars-jit").</param>
/// <param name="Endpoint">The gRPC address: http://127.0.0.1:PORT or unix:/path.sock.</param>
/// <param name="Rate">Open loop: calls per second. Closed loop: ignored.</param>
/// <param name="Concurrency">Closed loop: calls in flight. Open loop: ignored.</param>
/// <param name="Connections">HTTP/2 connections the calls are spread over.</param>
/// <param name="Client">The transport the generator calls with.</param>
public sealed record RunSpec(
    string Scenario,
    string Target,
    string Endpoint,
    LoopMode Mode,
    double Rate,
    TimeSpan Duration,
    TimeSpan Warmup,
    int Connections = 4,
    int Concurrency = 64,
    ClientKind Client = ClientKind.H2);
