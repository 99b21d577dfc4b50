using System.Buffers;
using System.Text;
using Envoy.Service.Auth.V3;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Authorization.Config;
using Sidecars.Authorization.Services;
using Sidecars.RateLimiting;
using Sidecars.RateLimiting.Stores;
using Sidecars.Envoy.RateLimiting;
using Sidecars.Config;
using HttpStatus = Envoy.Type.V3.HttpStatus;
using StatusCode = Envoy.Type.V3.StatusCode;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// Envoy's <c>envoy.service.auth.v3.Authorization/Check</c>. A deny is a normal response with a non-OK status
/// and an explicit HTTP status, never a gRPC error (a <c>failure_mode_allow</c> Envoy would let an error
/// through). Malformed requests are denied the same way, and an exception on the way (a bug) is too: the
/// boundary answers 403 and logs the cause once (issue 7, finding 1).
/// </summary>
public sealed class AuthorizationServiceAdapter(ConfigState config, TokenCache cache, TimeProvider time, AuthResponseOptions options, ILogger<AuthorizationServiceAdapter> logger, IBucketStore? store = null)
    : global::Envoy.Service.Auth.V3.Authorization.AuthorizationBase
{
    // Service routes' rate_limits are charged in the rate limit service's store; without one (in-process tests), this process's memory.
    private readonly ServiceLimiter _limiter = new(store ?? new InMemoryBucketStore(time));

    private const int GrpcUnauthenticated = 16;
    private const int GrpcPermissionDenied = 7;

    /// <summary>The header of an allow in dry run, to the upstream: what would have been answered (<c>403 rule 1 of route 'read' failed: ...</c>).</summary>
    public const string DryRunHeader = "x-sidecars-dry-run";

    /// <summary>The reason of the last-resort deny; the cause is in the log, not in the response.</summary>
    internal const string InternalErrorReason = "internal error while deciding";

    // Bad signatures seen recently: a repeated bad token costs no crypto (issue 7, finding 8). 1024 slots of ~150 bytes.
    private readonly FailedTokenCache _failures = new(1024);
    private readonly CheckFailureLog _failureLog = new(logger, time);

    private readonly AllowResponses _allowed = new();
    private long _dryRuns;

    /// <summary>Requests allowed in dry run that would have been denied (or limited): <c>/readyz</c> calls.check_dry_run.</summary>
    public long DryRuns => Interlocked.Read(ref _dryRuns);

    // Shared by every deny, never mutated: Google.Protobuf's CalculateSize and WriteTo only read (no cached size).
    private static readonly HttpStatus Unauthorized = new() { Code = StatusCode.Unauthorized };
    private static readonly HttpStatus BadRequest = new() { Code = StatusCode.BadRequest };
    private static readonly HttpStatus Forbidden = new() { Code = StatusCode.Forbidden };
    private static readonly HttpStatus TooManyRequests = new() { Code = StatusCode.TooManyRequests };
    private const int GrpcResourceExhausted = 8;

    /// <summary>
    /// The server's entry point: the answer as it goes to the wire. An allow is the encoded answer kept with
    /// its token (the same completed task on every hit, nothing allocated); a deny is a message built per call.
    /// Always complete on return (no I/O on the way).
    /// </summary>
    public Task<CheckAnswer> Answer(CheckRequest request) => Answer(request.Attributes?.Request?.Http, request, call: null);

    /// <summary>As <see cref="Answer(CheckRequest)"/>, for a call as the server reads it off the wire.</summary>
    public Task<CheckAnswer> Answer(CheckCall call) => Answer(call.Http, request: null, call);

    private Task<CheckAnswer> Answer(AttributeContext.Types.HttpRequest? http, CheckRequest? request, CheckCall? call)
    {
        try
        {
            return Decide(http, request, call);
        }
#pragma warning disable CA1031 // The last line of defence: whatever escaped the core, Envoy gets a deny, never an RPC error it may fail open on.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _failureLog.Report(exception);
            return Answered(Denied(AuthDecision.Forbidden(null, null, InternalErrorReason, error: null), host: string.Empty));
        }
    }

    /// <summary>
    /// The generated service's signature, for in-process callers (tests): <see cref="Answer(CheckRequest)"/> as a message, an
    /// encoded allow parsed back into a new one. The server binds <see cref="Answer(CheckRequest)"/> instead (see <see cref="Wire.EnvoyWire"/>).
    /// </summary>
    public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context)
    {
        var answer = Answer(request);
        return answer.IsCompletedSuccessfully ? Task.FromResult(answer.Result.ToMessage()) : AsMessageAsync(answer);
    }

    private static async Task<CheckResponse> AsMessageAsync(Task<CheckAnswer> answer) => (await answer.ConfigureAwait(false)).ToMessage();

    private static Task<CheckAnswer> Answered(CheckResponse deny) => Task.FromResult(new CheckAnswer(deny));

    /// <summary>
    /// An allow answers with the encoding shared by every request it fits (see <see cref="AllowResponses"/>); a deny
    /// is built per call. A service route's limits are charged after the decision, in one store call; the view of
    /// the request stays rented until its answer is built, on whichever thread the store completes.
    /// </summary>
    private Task<CheckAnswer> Decide(AttributeContext.Types.HttpRequest? http, CheckRequest? request, CheckCall? call)
    {
        if (http is null)
        {
            return Answered(Denied(AuthDecision.Forbidden(null, null, "the check request has no HTTP attributes", error: null), host: string.Empty));
        }

        var policy = config.Current.Auth;
        var view = call is not null ? CheckRequestView.Rent(call) : request is not null ? CheckRequestView.Rent(request) : CheckRequestView.Rent(http);
        var handedOff = false;
        try
        {
            var tokens = RequestTokens.Rent(view, policy.Validators, cache, time, _failures);
            AuthDecision decision;
            try
            {
                decision = AuthEvaluator.Decide(policy, view, tokens);
            }
            finally
            {
                RequestTokens.Return(tokens);
            }

            if (decision.Allowed && decision.ServiceRoute is { HasLimits: true })
            {
                var batch = ServiceLimiter.Rent();
                if (ServiceLimiter.Build(decision, view, batch))
                {
                    var pending = _limiter.ApplyAsync(batch);
                    if (!pending.IsCompletedSuccessfully)
                    {
                        handedOff = true;
                        return FinishAsync(pending, policy, decision, view, batch, http.Host);
                    }

                    pending.GetAwaiter().GetResult();
                    decision = ServiceLimiter.Finish(decision, batch);
                }

                ServiceLimiter.Return(batch);
            }

            return Complete(policy, decision, view, http.Host);
        }
        finally
        {
            if (!handedOff)
            {
                CheckRequestView.Return(view);
            }
        }
    }

    private async Task<CheckAnswer> FinishAsync(ValueTask<bool> pending, AuthPolicy policy, AuthDecision decision, CheckRequestView view, BucketBatch batch, string host)
    {
        try
        {
            await pending.ConfigureAwait(false);
            decision = ServiceLimiter.Finish(decision, batch);
            ServiceLimiter.Return(batch);
            return await Complete(policy, decision, view, host).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // As at the boundary: a store that throws is a deny, never an RPC error.
        catch (Exception exception)
#pragma warning restore CA1031
        {
            _failureLog.Report(exception);
            return new CheckAnswer(Denied(AuthDecision.Forbidden(null, null, InternalErrorReason, error: null), host: string.Empty));
        }
        finally
        {
            CheckRequestView.Return(view);
        }
    }

    /// <summary>The mode (dry run), the upstream headers, then the answer: shared bytes for a plain allow, per call with limit headers or a dry-run report.</summary>
    private Task<CheckAnswer> Complete(AuthPolicy policy, AuthDecision decision, CheckRequestView view, string host)
    {
        decision = ServiceEvaluator.ApplyMode(decision);
        decision = UpstreamShaping.Complete(policy, decision);
        if (decision.Allowed)
        {
            if (decision.DryRun is not null)
            {
                Interlocked.Increment(ref _dryRuns);
                AuthorizationLog.DryRun(logger, decision.Service?.Name ?? "(none)", decision.Route ?? "(none)", decision.DryRun);
            }

            return decision.DryRun is null && decision.Limit is null
                ? _allowed.For(decision, view)
                : Task.FromResult(_allowed.WithReport(decision, view));
        }

        AuthorizationLog.Denied(logger, decision.Status, decision.Route ?? "(none)", decision.Provider ?? "(none)", decision.Description);
        return Answered(Denied(decision, host));
    }

    /// <summary>
    /// The answer to a CheckRequest that cannot be read: not a protobuf message (<see cref="Wire.EnvoyWire.UnreadableCheckRequest"/>),
    /// or over the message limit. A 403, never a gRPC error that <c>failure_mode_allow</c> would let through.
    /// </summary>
    public CheckResponse DenyUnreadable(string reason = "malformed request") =>
        Denied(AuthDecision.Forbidden(null, null, reason, error: null), host: string.Empty);

    private CheckResponse Denied(AuthDecision decision, string host)
    {
        var denied = new DeniedHttpResponse
        {
            Status = decision.Status switch { 401 => Unauthorized, 400 => BadRequest, 429 => TooManyRequests, _ => Forbidden },
            Body = decision.Status switch { 401 => "Unauthorized\n", 400 => "Bad Request\n", 429 => "Too Many Requests\n", _ => "Forbidden\n" },
        };
        if (decision.Limit is { } limit)
        {
            // RFC 9110 §10.2.3: whole seconds, rounded up, so a client that waits that long is not refused again.
            denied.Headers.Add(AllowResponses.Overwrite("retry-after", RateLimitHeaderText.Seconds(limit.ResetAfterNanos)));
            foreach (var (name, value) in RateLimitHeaderText.For(limit))
            {
                denied.Headers.Add(AllowResponses.Overwrite(name, value));
            }
        }
        if (decision.Status == 401 || decision.Error is not null)
        {
            denied.Headers.Add(AllowResponses.Overwrite("www-authenticate", Challenge(decision, string.IsNullOrEmpty(options.Realm) ? host : options.Realm, options.ExposeReason)));
        }

        // The reason goes to the client only when the operator asks (issue 7, finding 9); the gRPC status
        // message below is read by Envoy (its logs), not sent downstream, and the decision log has it too.
        if (options.ExposeReason)
        {
            denied.Headers.Add(AllowResponses.Overwrite(options.ReasonHeader, Quoted(decision.Description)));
        }

        return new CheckResponse
        {
            Status = new Google.Rpc.Status { Code = decision.Status switch { 401 => GrpcUnauthenticated, 429 => GrpcResourceExhausted, _ => GrpcPermissionDenied }, Message = decision.Description },
            DeniedResponse = denied,
        };
    }

    /// <summary>
    /// RFC 6750 §3: <c>Bearer realm="..."</c>, with <c>error</c> when a token was present, and its
    /// <c>error_description</c> only when reasons are exposed.
    /// </summary>
    private static string Challenge(AuthDecision decision, string realm, bool exposeReason)
    {
        var challenge = new StringBuilder("Bearer realm=\"").Append(Quoted(realm)).Append('"');
        if (decision.Error is not null)
        {
            challenge.Append(", error=\"").Append(decision.Error).Append('"');
            if (exposeReason)
            {
                challenge.Append(", error_description=\"").Append(Quoted(decision.Description)).Append('"');
            }
        }

        return challenge.ToString();
    }

    /// <summary>
    /// Text for a quoted-string in a response header: printable ASCII only, no backslash, <c>"</c> as <c>'</c>.
    /// The realm is the client's host, which may hold CR, LF or any byte.
    /// </summary>
    private static string Quoted(string text)
    {
        if (!text.AsSpan().ContainsAnyExcept(QuotedSafe))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length);
        foreach (var c in text)
        {
            if (c == '"')
            {
                builder.Append('\'');
            }
            else if (QuotedSafe.Contains(c))
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static readonly SearchValues<char> QuotedSafe =
        SearchValues.Create(" !#$%&'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[]^_`abcdefghijklmnopqrstuvwxyz{|}~");
}
