using System.Text;
using Envoy.Service.Auth.V3;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// Reads <c>source.address.socket_address.address</c>, <c>source.principal</c> and one <c>context_extensions</c>
/// entry straight from the bytes the fast reader kept (an AttributeContext holding only <c>source</c> and
/// <c>context_extensions</c>), without building the messages: a rule on the source address runs on every call of
/// its route. The bytes were checked parseable by <see cref="WireValidator"/>; as the generated parser would, the
/// last value of a field wins, repeated embedded messages merge, and a later <c>Address</c> of another kind (a
/// pipe) clears the socket address.
/// </summary>
/// <remarks>
/// Field numbers (envoy/service/auth/v3/attribute_context.proto, envoy/config/core/v3/address.proto):
/// AttributeContext.source = 1, context_extensions = 10 (map entries: key 1, value 2); Peer.address = 1,
/// principal = 4; Address.socket_address = 1 (pipe 2, envoy_internal_address 3); SocketAddress.address = 2.
/// </remarks>
internal static class PeerAttributes
{
    private const int PeerAddress = 1;
    private const int PeerPrincipal = 4;
    private const int SocketAddressField = 1;
    private const int SocketAddressAddress = 2;

    public static bool TrySourceAddress(ReadOnlySpan<byte> attributes, out ReadOnlySpan<byte> address)
    {
        address = default;
        var found = false;
        foreach (var source in Fields(attributes, AttributeContext.SourceFieldNumber))
        {
            var peer = attributes.Slice(source.Start, source.Length);
            foreach (var field in AllFields(peer))
            {
                if (field.Number != PeerAddress)
                {
                    continue;
                }

                var addressMessage = peer.Slice(field.Start, field.Length);
                foreach (var kind in AllFields(addressMessage))
                {
                    if (kind.Number != SocketAddressField)
                    {
                        // Another member of the oneof replaces the socket address.
                        found = false;
                        address = default;
                        continue;
                    }

                    var socket = addressMessage.Slice(kind.Start, kind.Length);
                    foreach (var part in AllFields(socket))
                    {
                        if (part.Number == SocketAddressAddress)
                        {
                            address = socket.Slice(part.Start, part.Length);
                            found = true;
                        }
                    }
                }
            }
        }

        return found && address.Length > 0;
    }

    public static bool TryPrincipal(ReadOnlySpan<byte> attributes, out ReadOnlySpan<byte> principal)
    {
        principal = default;
        foreach (var source in Fields(attributes, AttributeContext.SourceFieldNumber))
        {
            var peer = attributes.Slice(source.Start, source.Length);
            foreach (var field in AllFields(peer))
            {
                if (field.Number == PeerPrincipal)
                {
                    principal = peer.Slice(field.Start, field.Length);
                }
            }
        }

        return principal.Length > 0;
    }

    public static bool TryContextExtension(ReadOnlySpan<byte> attributes, string key, out ReadOnlySpan<byte> value)
    {
        value = default;
        var found = false;
        Span<byte> wanted = stackalloc byte[Encoding.UTF8.GetMaxByteCount(Math.Min(key.Length, 256))];
        if (key.Length > 256)
        {
            return false;
        }

        wanted = wanted[..Encoding.UTF8.GetBytes(key, wanted)];
        foreach (var entry in Fields(attributes, AttributeContext.ContextExtensionsFieldNumber))
        {
            var content = attributes.Slice(entry.Start, entry.Length);
            ReadOnlySpan<byte> entryKey = default, entryValue = default;
            foreach (var field in AllFields(content))
            {
                if (field.Number == 1)
                {
                    entryKey = content.Slice(field.Start, field.Length);
                }
                else if (field.Number == 2)
                {
                    entryValue = content.Slice(field.Start, field.Length);
                }
            }

            if (entryKey.SequenceEqual(wanted))
            {
                value = entryValue;
                found = true;
            }
        }

        return found;
    }

    private readonly record struct Field(int Number, int Start, int Length);

    private static FieldEnumerable Fields(ReadOnlySpan<byte> message, int number) => new(message, number);

    private static FieldEnumerable AllFields(ReadOnlySpan<byte> message) => new(message, 0);

    /// <summary>The length-delimited fields of a message (of one number, or of every number with 0); other wire types are skipped.</summary>
    private ref struct FieldEnumerable(ReadOnlySpan<byte> message, int number)
    {
        private readonly ReadOnlySpan<byte> _message = message;
        private int _at;

        public Field Current { get; private set; }

        public readonly FieldEnumerable GetEnumerator() => this;

        public bool MoveNext()
        {
            while (_at < _message.Length)
            {
                if (!ProtoWire.TryReadTag(_message, ref _at, out var tag))
                {
                    _at = _message.Length;
                    return false;
                }

                var fieldNumber = (int)(tag >> 3);
                if ((tag & 7) == ProtoWire.LengthDelimited)
                {
                    if (!ProtoWire.TryReadLength(_message, ref _at, out var length))
                    {
                        _at = _message.Length;
                        return false;
                    }

                    var start = _at;
                    _at += length;
                    if (number == 0 || fieldNumber == number)
                    {
                        Current = new Field(fieldNumber, start, length);
                        return true;
                    }
                }
                else if (!ProtoWire.TrySkip(_message, ref _at, (int)(tag & 7)))
                {
                    _at = _message.Length;
                    return false;
                }
            }

            return false;
        }
    }
}
