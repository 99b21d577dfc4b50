using System.Net;

namespace Sidecars.Authorization.Services;

/// <summary>
/// <c>source_ip: [CIDR, ...]</c>: the downstream address Envoy reports in <c>source.address</c>, IPv4 or IPv6 (an
/// IPv4-mapped IPv6 address counts as IPv4). An IPv4 address is read and matched as a number, without an object;
/// an IPv6 one through <see cref="IPAddress"/>.
/// </summary>
public sealed class SourceIpRule : Rule
{
    private readonly (uint Network, uint Mask)[] _v4;
    private readonly IPNetwork[] _v6;

    public SourceIpRule(IReadOnlyList<IPNetwork> networks, string text)
        : base(text)
    {
        Networks = networks;
        _v4 = [.. networks.Where(n => n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork).Select(n => (ToUInt32(n.BaseAddress), Mask(n.PrefixLength)))];
        _v6 = [.. networks.Where(n => n.BaseAddress.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)];
    }

    public IReadOnlyList<IPNetwork> Networks { get; }

    public override bool Holds(in RuleInput input)
    {
        if (!input.Request.TrySourceAddress(out var text))
        {
            return false;
        }

        if (TryParseIPv4(text, out var v4))
        {
            return MatchesV4(v4);
        }

        if (!IPAddress.TryParse(text, out var address))
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            return MatchesV4(ToUInt32(address.MapToIPv4()));
        }

        foreach (var network in _v6)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    private bool MatchesV4(uint address)
    {
        foreach (var (network, mask) in _v4)
        {
            if ((address & mask) == network)
            {
                return true;
            }
        }

        return false;
    }

    private static uint Mask(int prefix) => prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);

    private static uint ToUInt32(IPAddress address)
    {
        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes);
    }

    /// <summary>Dotted-quad decimal only (<c>10.1.2.3</c>), each part 0–255 without a leading zero: anything else goes to <see cref="IPAddress.TryParse(ReadOnlySpan{char}, out IPAddress)"/>.</summary>
    internal static bool TryParseIPv4(ReadOnlySpan<char> text, out uint address)
    {
        address = 0;
        var parts = 0;
        var value = -1;
        var digits = 0;
        foreach (var c in text)
        {
            if (c == '.')
            {
                if (value < 0 || ++parts > 3)
                {
                    return false;
                }

                address = (address << 8) | (uint)value;
                value = -1;
                digits = 0;
                continue;
            }

            if (c is < '0' or > '9' || (digits == 1 && value == 0))
            {
                return false;
            }

            value = (value < 0 ? 0 : value * 10) + (c - '0');
            digits++;
            if (value > 255)
            {
                return false;
            }
        }

        if (parts != 3 || value < 0)
        {
            return false;
        }

        address = (address << 8) | (uint)value;
        return true;
    }
}
