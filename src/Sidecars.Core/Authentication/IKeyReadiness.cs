namespace Sidecars.Authentication;

/// <summary>
/// Whether every provider the routes need has keys (issue 7, finding 16): gRPC health of the auth service
/// and /readyz follow it, so a JWKS that cannot be fetched is visible before requests are denied for it.
/// </summary>
public interface IKeyReadiness
{
    bool KeysReady { get; }
}
