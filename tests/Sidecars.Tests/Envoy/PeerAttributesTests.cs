using System.Text;
using Envoy.Config.Core.V3;
using Envoy.Service.Auth.V3;
using Google.Protobuf;
using Sidecars.Envoy.Wire;

namespace Sidecars.Tests.Envoy;

/// <summary>Issue 9: the source address, principal and context extensions read in place agree with the generated parser, merges and all.</summary>
public sealed class PeerAttributesTests
{
    private static AttributeContext Peer(string? address = null, string? principal = null, string? pipe = null, params (string, string)[] context)
    {
        var attributes = new AttributeContext();
        if (address is not null || principal is not null || pipe is not null)
        {
            attributes.Source = new AttributeContext.Types.Peer { Principal = principal ?? string.Empty };
            attributes.Source.Address = pipe is not null
                ? new Address { Pipe = new Pipe { Path = pipe } }
                : address is not null ? new Address { SocketAddress = new SocketAddress { Address = address, PortValue = 1234 } } : null;
        }

        foreach (var (key, value) in context)
        {
            attributes.ContextExtensions[key] = value;
        }

        return attributes;
    }

    public static TheoryData<byte[]> Messages()
    {
        var data = new TheoryData<byte[]>
        {
            Peer("10.0.0.1", "spiffe://a/b", null, ("tier", "gold"), ("x", "")).ToByteArray(),
            Peer("2001:db8::1").ToByteArray(),
            Peer(principal: "only-principal").ToByteArray(),
            Peer(pipe: "/run/x.sock", principal: "p").ToByteArray(),
            new AttributeContext().ToByteArray(),
        };

        // Repeated fields merge: the later source's address wins, the earlier principal stays; a later pipe clears the socket address.
        data.Add(Concat(Peer("10.0.0.1", "first"), Peer("10.0.0.2")));
        data.Add(Concat(Peer("10.0.0.1", "first"), Peer(pipe: "/p")));
        data.Add(Concat(Peer(context: [("k", "1")]), Peer(context: [("k", "2"), ("café", "ü")])));
        return data;
    }

    private static byte[] Concat(AttributeContext first, AttributeContext second) => [.. first.ToByteArray(), .. second.ToByteArray()];

    [Theory]
    [MemberData(nameof(Messages))]
    public void In_place_reads_agree_with_the_generated_parser(byte[] bytes)
    {
        var parsed = AttributeContext.Parser.ParseFrom(bytes);
        var address = parsed.Source?.Address?.SocketAddress?.Address;
        Assert.Equal(address is { Length: > 0 }, PeerAttributes.TrySourceAddress(bytes, out var addressBytes));
        if (address is { Length: > 0 })
        {
            Assert.Equal(address, Encoding.UTF8.GetString(addressBytes));
        }

        var principal = parsed.Source?.Principal;
        Assert.Equal(principal is { Length: > 0 }, PeerAttributes.TryPrincipal(bytes, out var principalBytes));
        if (principal is { Length: > 0 })
        {
            Assert.Equal(principal, Encoding.UTF8.GetString(principalBytes));
        }

        foreach (var key in (string[])["tier", "x", "k", "café", "absent"])
        {
            var present = parsed.ContextExtensions.TryGetValue(key, out var value);
            Assert.Equal(present, PeerAttributes.TryContextExtension(bytes, key, out var valueBytes));
            if (present)
            {
                Assert.Equal(value, Encoding.UTF8.GetString(valueBytes));
            }
        }
    }
}
