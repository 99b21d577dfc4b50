using System.Buffers.Text;
using System.Text;
using System.Text.Json;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Google.Protobuf.WellKnownTypes;
using Grpc.Core;
using Sidecars.Authentication;
using Sidecars.Authorization;
using Sidecars.Authorization.Config;
using Sidecars.Config;
using HttpStatus = Envoy.Type.V3.HttpStatus;
using StatusCode = Envoy.Type.V3.StatusCode;

namespace Sidecars.Envoy.Authorization;

/// <summary>
/// Envoy's <c>envoy.service.auth.v3.Authorization/Check</c>. A deny is a normal response with a non-OK status
/// and an explicit HTTP status, never a gRPC error (a <c>failure_mode_allow</c> Envoy would let an error
/// through). Malformed requests are denied the same way.
/// </summary>
public sealed class AuthorizationServiceAdapter(ConfigState config, TokenCache cache, TimeProvider time, AuthResponseOptions options)
    : global::Envoy.Service.Auth.V3.Authorization.AuthorizationBase
{
    private const int GrpcUnauthenticated = 16;
    private const int GrpcPermissionDenied = 7;

    public override Task<CheckResponse> Check(CheckRequest request, ServerCallContext context) => Task.FromResult(Decide(request));

    internal CheckResponse Decide(CheckRequest request)
    {
        var http = request.Attributes?.Request?.Http;
        if (http is null)
        {
            return Denied(AuthDecision.Forbidden(null, null, "the check request has no HTTP attributes", error: null), host: string.Empty);
        }

        var policy = config.Current.Auth;
        var view = new CheckRequestView(http);
        var tokens = RequestTokens.Rent(view, policy.Validators, cache, time);
        AuthDecision decision;
        try
        {
            decision = AuthEvaluator.Decide(policy.Routes, policy.DefaultAllow, view, tokens);
        }
        finally
        {
            RequestTokens.Return(tokens);
        }

        return decision.Allowed ? Allowed(decision, policy, view) : Denied(decision, http.Host);
    }

    /// <summary>The answer to a CheckRequest that is not a protobuf message (<see cref="Wire.EnvoyWire.UnreadableCheckRequest"/>): a 403.</summary>
    public CheckResponse DenyUnreadable() =>
        Denied(AuthDecision.Forbidden(null, null, "malformed request", error: null), host: string.Empty);

    private static CheckResponse Allowed(AuthDecision decision, AuthPolicy policy, CheckRequestView view)
    {
        var ok = new OkHttpResponse();
        var response = new CheckResponse { Status = new Google.Rpc.Status { Code = 0 }, OkResponse = ok };
        if (decision.Provider is null || !policy.Providers.TryGetValue(decision.Provider, out var provider))
        {
            return response;
        }

        var claims = decision.Token?.Claims;
        foreach (var mapping in provider.ClaimToHeaders)
        {
            // Always set or remove: a client must not be able to send its own x-user-id.
            if (claims is { } c && c.TryGetProperty(mapping.Claim, out var value) && value.ValueKind is JsonValueKind.String or JsonValueKind.Number or JsonValueKind.True or JsonValueKind.False)
            {
                ok.Headers.Add(Overwrite(mapping.Header, value.ValueKind == JsonValueKind.String ? value.GetString()! : value.GetRawText()));
            }
            else
            {
                ok.HeadersToRemove.Add(mapping.Header);
            }
        }

        if (provider.ForwardPayloadHeader is { } payloadHeader)
        {
            if (claims is { } payload)
            {
                ok.Headers.Add(Overwrite(payloadHeader, Base64Url.EncodeToString(Encoding.UTF8.GetBytes(payload.GetRawText()))));
            }
            else
            {
                ok.HeadersToRemove.Add(payloadHeader);
            }
        }

        if (!provider.Forward && decision.Token is not null)
        {
            foreach (var location in provider.Provider.Locations)
            {
                if (location.Kind == TokenLocationKind.Header && view.Header(location.Name) is not null)
                {
                    ok.HeadersToRemove.Add(location.Name);
                }
                else if (location.Kind == TokenLocationKind.QueryParameter)
                {
                    ok.QueryParametersToRemove.Add(location.Name);
                }
            }
        }

        if (claims is { } verified)
        {
            var jwt = ToValue(verified);
            jwt.StructValue.Fields["provider"] = Value.ForString(decision.Provider);
            var metadata = new Struct();
            metadata.Fields["jwt"] = jwt;
            if (decision.Route is not null)
            {
                metadata.Fields["route"] = Value.ForString(decision.Route);
            }

            response.DynamicMetadata = metadata;
        }

        return response;
    }

    private CheckResponse Denied(AuthDecision decision, string host)
    {
        var denied = new DeniedHttpResponse
        {
            Status = new HttpStatus { Code = decision.Status == 401 ? StatusCode.Unauthorized : StatusCode.Forbidden },
            Body = decision.Status == 401 ? "Unauthorized\n" : "Forbidden\n",
        };
        if (decision.Status == 401 || decision.Error is not null)
        {
            denied.Headers.Add(Overwrite("www-authenticate", Challenge(decision, string.IsNullOrEmpty(options.Realm) ? host : options.Realm)));
        }

        if (options.ExposeReason)
        {
            denied.Headers.Add(Overwrite(options.ReasonHeader, decision.Description));
        }

        return new CheckResponse
        {
            Status = new Google.Rpc.Status { Code = decision.Status == 401 ? GrpcUnauthenticated : GrpcPermissionDenied, Message = decision.Description },
            DeniedResponse = denied,
        };
    }

    /// <summary>RFC 6750 §3: <c>Bearer realm="..."</c>, with <c>error</c> and <c>error_description</c> when a token was present.</summary>
    private static string Challenge(AuthDecision decision, string realm)
    {
        var challenge = new StringBuilder("Bearer realm=\"").Append(Quoted(realm)).Append('"');
        if (decision.Error is not null)
        {
            challenge.Append(", error=\"").Append(decision.Error).Append("\", error_description=\"").Append(Quoted(decision.Description)).Append('"');
        }

        return challenge.ToString();
    }

    private static string Quoted(string text) => text.Replace("\\", string.Empty, StringComparison.Ordinal).Replace("\"", "'", StringComparison.Ordinal);

    private static HeaderValueOption Overwrite(string name, string value) => new()
    {
        Header = new HeaderValue { Key = name, Value = value },
        AppendAction = HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd,
    };

    private static Value ToValue(JsonElement element) => element.ValueKind switch
    {
        JsonValueKind.Object => Value.ForStruct(ToStruct(element)),
        JsonValueKind.Array => Value.ForList([.. element.EnumerateArray().Select(ToValue)]),
        JsonValueKind.String => Value.ForString(element.GetString()!),
        JsonValueKind.Number => Value.ForNumber(element.GetDouble()),
        JsonValueKind.True => Value.ForBool(true),
        JsonValueKind.False => Value.ForBool(false),
        _ => Value.ForNull(),
    };

    private static Struct ToStruct(JsonElement element)
    {
        var result = new Struct();
        foreach (var property in element.EnumerateObject())
        {
            result.Fields[property.Name] = ToValue(property.Value);
        }

        return result;
    }
}
