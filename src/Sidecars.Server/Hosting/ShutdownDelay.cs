using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Sidecars.Envoy.Health;

namespace Sidecars.Server.Hosting;

/// <summary>
/// After SIGTERM, readiness false while the listeners still answer for <see cref="SidecarsOptions.ShutdownDelay"/>:
/// the host calls every <see cref="IHostedLifecycleService.StoppingAsync"/> before it stops any service, Kestrel's
/// included, so waiting here holds the sockets open. (Blocking in an ApplicationStopping callback does not: SIGTERM
/// fires those on the signal's thread while the host already stops Kestrel on another.)
/// </summary>
internal sealed class ShutdownDelay(ServingState serving, IOptions<SidecarsOptions> options, ILogger<ShutdownDelay> logger) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        serving.BeginShutdown();
        var delay = options.Value.ShutdownDelay;
        if (delay > TimeSpan.Zero)
        {
            ServerLog.Draining(logger, delay);
            try
            {
                await Task.Delay(delay, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The host's own timeout (delay + ShutdownTimeout) ran out: stop now.
            }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
