using System.Buffers;
using System.Text;
using Envoy.Service.Auth.V3;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Sidecars.Authentication;
using Sidecars.Authorization;
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
public sealed class AuthorizationServiceAdapter(ConfigState config, TokenCache cache, TimeProvider time, AuthResponseOptions options, ILogger<AuthorizationServiceAdapter> logger)
    : global::Envoy.Service.Auth.V3.Authorization.AuthorizationBase
{
    private const int GrpcUnauthenticated = 16;
    private const int GrpcPermissionDenied = 7;

    /// <summary>The reason of the last-resort deny; the cause is in the log, not in the response.</summary>
    internal const string InternalErrorReason = "internal error while deciding";

    // Bad signatures seen recently: a repeated bad token costs no crypto (issue 7, finding 8). 1024 slots of ~150 bytes.
    private readonly FailedTokenCache _failures = new(1024);
    private readonly CheckFailureLog _failureLog = new(logger, time);

    private readonly AllowResponses _allowed = new();

    // Shared by every deny, never mutated: Google.Protobuf's CalculateSize and WriteTo only read (no cached size).
    private static readonly HttpStatus Unauthorized = new() { Code = StatusCode.Unauthorized };
    private static readonly HttpStatus BadRequest = new() { Code = StatusCode.BadRequest };
    private static readonly HttpStatus Forbidden = new() { Code = StatusCode.Forbidden };

    /// <summary>
    /// The server's entry point: the answer as it goes to the wire. An allow is the encoded answer kept with
    /// its token (the same completed task on every hit, nothing allocated); a deny is a message built per call.
    /// Always complete on return (no I/O on the way).
    /// </summary>
    public Task<CheckAnswer> Answer(CheckRequest request) => Answer(request.Attributes?.Request?.Http, headers: null);

    /// <summary>As <see cref="Answer(CheckRequest)"/>, for a call as the server reads it off the wire.</summary>
    public Task<CheckAnswer> Answer(CheckCall call) => Answer(call.Http, call.Headers);

    private Task<CheckAnswer> Answer(AttributeContext.Types.HttpRequest? http, CheckHeaders? headers)
    {
        try
        {
            return Decide(http, headers);
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

    /// <summary>An allow answers with the encoding shared by every request it fits (see <see cref="AllowResponses"/>); a deny is built per call.</summary>
    private Task<CheckAnswer> Decide(AttributeContext.Types.HttpRequest? http, CheckHeaders? headers)
    {
        if (http is null)
        {
            return Answered(Denied(AuthDecision.Forbidden(null, null, "the check request has no HTTP attributes", error: null), host: string.Empty));
        }

        var policy = config.Current.Auth;
        var view = CheckRequestView.Rent(http, headers);
        try
        {
            var tokens = RequestTokens.Rent(view, policy.Validators, cache, time, _failures);
            AuthDecision decision;
            try
            {
                decision = AuthEvaluator.Decide(policy.Routes, policy.DefaultAllow, view, tokens);
            }
            finally
            {
                RequestTokens.Return(tokens);
            }

            decision = UpstreamShaping.Complete(policy, decision);
            if (decision.Allowed)
            {
                return _allowed.For(decision, view);
            }

            AuthorizationLog.Denied(logger, decision.Status, decision.Route ?? "(none)", decision.Provider ?? "(none)", decision.Description);
            return Answered(Denied(decision, http.Host));
        }
        finally
        {
            CheckRequestView.Return(view);
        }
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
            Status = decision.Status switch { 401 => Unauthorized, 400 => BadRequest, _ => Forbidden },
            Body = decision.Status switch { 401 => "Unauthorized\n", 400 => "Bad Request\n", _ => "Forbidden\n" },
        };
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
            Status = new Google.Rpc.Status { Code = decision.Status == 401 ? GrpcUnauthenticated : GrpcPermissionDenied, Message = decision.Description },
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
