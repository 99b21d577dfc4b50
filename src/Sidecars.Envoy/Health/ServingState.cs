using Sidecars.Config;

namespace Sidecars.Envoy.Health;

/// <summary>
/// Whether this process should receive traffic: a config is loaded and shutdown has not begun. Health
/// answers NOT_SERVING while draining so that a load balancer stops sending new calls first.
/// </summary>
public sealed class ServingState(ConfigState config)
{
    private readonly CancellationTokenSource _stopping = new();

    public CancellationToken Stopping => _stopping.Token;

    public bool IsServing => config.IsLoaded && !_stopping.IsCancellationRequested;

    /// <summary>Called once when shutdown starts; in-flight calls still finish.</summary>
    public void BeginShutdown() => _stopping.Cancel();
}
