using Envoy.Service.Auth.V3;
using Google.Protobuf;

namespace Sidecars.Tests.Envoy;

/// <summary>
/// Pins the field numbers of our ext_authz protos to Envoy's v3 API: each message is built from literal
/// field numbers and wire types with a tiny writer, then decoded by the generated code.
/// </summary>
public sealed class AuthWireFormatTests
{
    private static byte[] Field(int number, int wireType, byte[] payload)
    {
        var output = new List<byte>();
        Varint(output, (ulong)((number << 3) | wireType));
        if (wireType == 2)
        {
            Varint(output, (ulong)payload.Length);
        }

        output.AddRange(payload);
        return [.. output];
    }

    private static void Varint(List<byte> output, ulong value)
    {
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            output.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
    }

    private static byte[] Str(int number, string text) => Field(number, 2, System.Text.Encoding.UTF8.GetBytes(text));

    private static byte[] Num(int number, ulong value)
    {
        var payload = new List<byte>();
        Varint(payload, value);
        return Field(number, 0, [.. payload]);
    }

    private static byte[] Msg(int number, params byte[][] fields) => Field(number, 2, [.. fields.SelectMany(f => f)]);

    private static byte[] Root(params byte[][] fields) => [.. fields.SelectMany(f => f)];

    [Fact]
    public void CheckRequest_field_numbers_match_envoy()
    {
        var bytes = Root(Msg(1,                                        // CheckRequest.attributes
            Msg(1,                                                     // AttributeContext.source (Peer)
                Msg(1, Msg(1, Str(2, "10.0.0.7"), Num(3, 443))),       //   address.socket_address {address, port_value}
                Str(2, "svc"), Msg(3, Str(1, "lk"), Str(2, "lv")), Str(4, "spiffe://client"), Str(5, "PEM")),
            Msg(2, Msg(1, Msg(2, Str(1, "/run/envoy.sock")))),         // destination.address.pipe.path
            Msg(4,                                                     // request
                Msg(1, Num(1, 1_700_000_000)),                         //   time
                Msg(2,                                                 //   http
                    Str(1, "req-1"), Str(2, "GET"), Msg(3, Str(1, "authorization"), Str(2, "Bearer x")),
                    Str(4, "/orders?id=1"), Str(5, "orders.example.com"), Str(6, "https"), Str(7, "id=1"),
                    Str(8, "frag"), Num(9, 42), Str(10, "HTTP/2"), Str(11, "body"), Field(12, 2, [1, 2]),
                    Msg(13, Msg(1, Str(1, "x-raw"), Field(3, 2, [0xFF]))))),
            Msg(10, Str(1, "ext"), Str(2, "val")),                     // context_extensions
            Msg(11, Msg(1, Str(1, "ns"), Msg(2))),                     // metadata_context.filter_metadata
            Msg(12, Str(1, "orders.example.com")),                     // tls_session.sni
            Msg(13, Msg(1, Str(1, "route"), Msg(2)))));                // route_metadata_context

        var attributes = CheckRequest.Parser.ParseFrom(bytes).Attributes;

        Assert.Equal("10.0.0.7", attributes.Source.Address.SocketAddress.Address);
        Assert.Equal(443u, attributes.Source.Address.SocketAddress.PortValue);
        Assert.Equal(("svc", "lv", "spiffe://client", "PEM"), (attributes.Source.Service, attributes.Source.Labels["lk"], attributes.Source.Principal, attributes.Source.Certificate));
        Assert.Equal("/run/envoy.sock", attributes.Destination.Address.Pipe.Path);
        Assert.Equal(1_700_000_000, attributes.Request.Time.Seconds);
        var http = attributes.Request.Http;
        Assert.Equal(("req-1", "GET", "Bearer x"), (http.Id, http.Method, http.Headers["authorization"]));
        Assert.Equal(("/orders?id=1", "orders.example.com", "https", "id=1", "frag"), (http.Path, http.Host, http.Scheme, http.Query, http.Fragment));
        Assert.Equal((42L, "HTTP/2", "body"), (http.Size, http.Protocol, http.Body));
        Assert.Equal([1, 2], http.RawBody.ToByteArray());
        Assert.Equal("x-raw", http.HeaderMap.Headers[0].Key);
        Assert.Equal([0xFF], http.HeaderMap.Headers[0].RawValue.ToByteArray());
        Assert.Equal("val", attributes.ContextExtensions["ext"]);
        Assert.True(attributes.MetadataContext.FilterMetadata.ContainsKey("ns"));
        Assert.Equal("orders.example.com", attributes.TlsSession.Sni);
        Assert.True(attributes.RouteMetadataContext.FilterMetadata.ContainsKey("route"));
    }

    [Fact]
    public void Denied_CheckResponse_field_numbers_match_envoy()
    {
        var bytes = Root(
            Msg(1, Num(1, 16), Str(2, "unauthenticated")),                        // status {code, message}
            Msg(2,                                                                // denied_response
                Msg(1, Num(1, 401)),                                              //   status.code = Unauthorized
                Msg(2, Msg(1, Str(1, "www-authenticate"), Str(2, "Bearer")), Num(3, 2), Num(4, 1)), // headers {header, append_action, keep_empty_value}
                Str(3, "denied")),                                                //   body
            Msg(4, Msg(1, Str(1, "k"), Msg(2, Str(3, "v")))));                    // dynamic_metadata {fields {"k": string "v"}}

        var response = CheckResponse.Parser.ParseFrom(bytes);

        Assert.Equal((16, "unauthenticated"), (response.Status.Code, response.Status.Message));
        Assert.Equal(CheckResponse.HttpResponseOneofCase.DeniedResponse, response.HttpResponseCase);
        Assert.Equal(global::Envoy.Type.V3.StatusCode.Unauthorized, response.DeniedResponse.Status.Code);
        var header = Assert.Single(response.DeniedResponse.Headers);
        Assert.Equal(("www-authenticate", "Bearer"), (header.Header.Key, header.Header.Value));
        Assert.Equal(global::Envoy.Config.Core.V3.HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExistsOrAdd, header.AppendAction);
        Assert.True(header.KeepEmptyValue);
        Assert.Equal("denied", response.DeniedResponse.Body);
        Assert.Equal("v", response.DynamicMetadata.Fields["k"].StringValue);
    }

    [Fact]
    public void Ok_and_error_CheckResponse_field_numbers_match_envoy()
    {
        var ok = CheckResponse.Parser.ParseFrom(Root(
            Msg(1, Num(1, 0)),
            Msg(3,                                                  // ok_response
                Msg(2, Msg(1, Str(1, "x-user"), Str(2, "u1"))),    //   headers
                Str(5, "authorization"),                            //   headers_to_remove
                Msg(6, Msg(1, Str(1, "x-resp"), Str(2, "r"))),     //   response_headers_to_add
                Msg(7, Str(1, "p"), Str(2, "1")),                  //   query_parameters_to_set {key, value}
                Str(8, "token"))));                                 //   query_parameters_to_remove
        var response = ok.OkResponse;
        Assert.Equal("x-user", response.Headers[0].Header.Key);
        Assert.Equal("authorization", response.HeadersToRemove[0]);
        Assert.Equal("x-resp", response.ResponseHeadersToAdd[0].Header.Key);
        Assert.Equal(("p", "1"), (response.QueryParametersToSet[0].Key, response.QueryParametersToSet[0].Value));
        Assert.Equal("token", response.QueryParametersToRemove[0]);

        var error = CheckResponse.Parser.ParseFrom(Root(Msg(5, Msg(1, Num(1, 503)))));
        Assert.Equal(CheckResponse.HttpResponseOneofCase.ErrorResponse, error.HttpResponseCase);
        Assert.Equal(global::Envoy.Type.V3.StatusCode.ServiceUnavailable, error.ErrorResponse.Status.Code);
    }

    [Fact]
    public void Service_and_status_codes_match_envoy()
    {
        Assert.Equal("envoy.service.auth.v3.Authorization", global::Envoy.Service.Auth.V3.Authorization.Descriptor.FullName);
        Assert.Equal("Check", Assert.Single(global::Envoy.Service.Auth.V3.Authorization.Descriptor.Methods).Name);
        Assert.Equal(401, (int)global::Envoy.Type.V3.StatusCode.Unauthorized);
        Assert.Equal(403, (int)global::Envoy.Type.V3.StatusCode.Forbidden);
        Assert.Equal(429, (int)global::Envoy.Type.V3.StatusCode.TooManyRequests);
        Assert.Equal(3, (int)global::Envoy.Config.Core.V3.HeaderValueOption.Types.HeaderAppendAction.OverwriteIfExists);
        Assert.Equal("google.rpc.Status", Google.Rpc.Status.Descriptor.FullName);
        Assert.Equal(ByteString.Empty, new CheckRequest().ToByteString());
    }
}
