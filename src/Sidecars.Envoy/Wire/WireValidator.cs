using System.Text.Unicode;
using Google.Protobuf.Reflection;

namespace Sidecars.Envoy.Wire;

/// <summary>
/// Tells, without building anything, that Google.Protobuf's generated parser would read a run of fields of a
/// message: every string valid UTF-8, every sub-message the same recursively, every number whole. The Check reader
/// checks the parts of a request the decision never reads (the peers, the metadata, the TLS session…) with it
/// instead of parsing them: the parse was a tenth of the server's CPU under load and most of its allocation.
/// </summary>
/// <remarks>
/// Stricter than the parser, never laxer: a field sent with another wire type than its declared one, a group, a
/// packed run that does not divide, or nesting past <see cref="MaxDepth"/> answers false, and the caller hands the
/// whole message to the parser (which then decides). So "true" always means the parser would have succeeded.
/// The schema comes from the compiled descriptors, so a field added to the protos is covered without code here.
/// </remarks>
internal static class WireValidator
{
    // Below Google.Protobuf's recursion limit (100): deeper messages are the parser's to judge.
    private const int MaxDepth = 64;

    /// <summary>Whether <paramref name="fields"/> (a whole message, or a run of its fields) parses as <paramref name="schema"/>.</summary>
    public static bool IsParseable(ReadOnlySpan<byte> fields, Schema schema) => Check(fields, schema, depth: 0);

    private static bool Check(ReadOnlySpan<byte> input, Schema schema, int depth)
    {
        if (depth > MaxDepth)
        {
            return false;
        }

        var at = 0;
        while (at < input.Length)
        {
            if (!ProtoWire.TryReadTag(input, ref at, out var tag))
            {
                return false;
            }

            var wireType = (int)(tag & 7);
            var kind = schema.KindOf((int)(tag >> 3), out var nested);
            if (kind == FieldKind.Unknown)
            {
                // Kept by the parser as an unknown field: any well-formed value but a group (left to the parser).
                if (!ProtoWire.TrySkip(input, ref at, wireType))
                {
                    return false;
                }

                continue;
            }

            if (wireType == 2)
            {
                if (!ProtoWire.TryReadLength(input, ref at, out var length))
                {
                    return false;
                }

                var content = input.Slice(at, length);
                at += length;
                var valid = kind switch
                {
                    FieldKind.String => Utf8.IsValid(content),
                    FieldKind.Message => Check(content, nested!, depth + 1),
                    FieldKind.Bytes => true,
                    FieldKind.PackedVarint => AllVarints(content),
                    FieldKind.PackedFixed32 => content.Length % 4 == 0,
                    FieldKind.PackedFixed64 => content.Length % 8 == 0,
                    _ => false,
                };
                if (!valid)
                {
                    return false;
                }
            }
            else if (wireType != WireTypeOf(kind) || !ProtoWire.TrySkip(input, ref at, wireType))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The wire type a scalar kind is sent with unpacked; -1 for kinds that are only length-delimited.</summary>
    private static int WireTypeOf(FieldKind kind) => kind switch
    {
        FieldKind.Varint or FieldKind.PackedVarint => 0,
        FieldKind.Fixed64 or FieldKind.PackedFixed64 => 1,
        FieldKind.Fixed32 or FieldKind.PackedFixed32 => 5,
        _ => -1,
    };

    private static bool AllVarints(ReadOnlySpan<byte> content)
    {
        var at = 0;
        while (at < content.Length)
        {
            if (!ProtoWire.TryReadVarint(content, ref at, out _))
            {
                return false;
            }
        }

        return true;
    }

    internal enum FieldKind : byte
    {
        Unknown,
        String,
        Bytes,
        Message,
        Varint,
        Fixed32,
        Fixed64,

        // Repeated scalars: sent one by one with their own wire type, or packed into one length-delimited run.
        PackedVarint,
        PackedFixed32,
        PackedFixed64,

        // A group-typed field: never in proto3, always the parser's to read.
        Refused,
    }

    /// <summary>A message type's fields by number, with the schemas of its sub-messages; built once per type.</summary>
    internal sealed class Schema
    {
        private static readonly Dictionary<MessageDescriptor, Schema> Built = [];
        private static readonly Lock Building = new();

        private readonly FieldKind[] _kinds;
        private readonly Schema?[] _nested;
        private readonly Dictionary<int, (FieldKind Kind, Schema? Nested)>? _sparse;

        private Schema(int size, bool sparse)
        {
            _kinds = new FieldKind[sparse ? 0 : size];
            _nested = new Schema?[sparse ? 0 : size];
            _sparse = sparse ? [] : null;
        }

        /// <summary>The schema of <paramref name="descriptor"/> and of every type it reaches (recursive types included).</summary>
        public static Schema For(MessageDescriptor descriptor)
        {
            lock (Building)
            {
                return Build(descriptor);
            }
        }

        public FieldKind KindOf(int number, out Schema? nested)
        {
            if (_sparse is null)
            {
                if ((uint)number < (uint)_kinds.Length)
                {
                    nested = _nested[number];
                    return _kinds[number];
                }

                nested = null;
                return FieldKind.Unknown;
            }

            if (_sparse.TryGetValue(number, out var field))
            {
                nested = field.Nested;
                return field.Kind;
            }

            nested = null;
            return FieldKind.Unknown;
        }

        private static Schema Build(MessageDescriptor descriptor)
        {
            if (Built.TryGetValue(descriptor, out var known))
            {
                return known;
            }

            var fields = descriptor.Fields.InFieldNumberOrder();
            var highest = fields.Count == 0 ? 0 : fields[^1].FieldNumber;
            var schema = new Schema(highest + 1, sparse: highest > 256);

            // Registered before its fields are built, so a type that contains itself (Struct, Value, ListValue) ends.
            Built[descriptor] = schema;
            foreach (var field in fields)
            {
                var kind = KindOf(field);
                var nested = kind == FieldKind.Message ? Build(field.MessageType) : null;
                if (schema._sparse is { } sparse)
                {
                    sparse[field.FieldNumber] = (kind, nested);
                }
                else
                {
                    schema._kinds[field.FieldNumber] = kind;
                    schema._nested[field.FieldNumber] = nested;
                }
            }

            return schema;
        }

        private static FieldKind KindOf(FieldDescriptor field)
        {
            var scalar = field.FieldType switch
            {
                FieldType.String => FieldKind.String,
                FieldType.Bytes => FieldKind.Bytes,
                FieldType.Message => FieldKind.Message,
                FieldType.Group => FieldKind.Refused,
                FieldType.Int32 or FieldType.Int64 or FieldType.UInt32 or FieldType.UInt64 or FieldType.SInt32
                    or FieldType.SInt64 or FieldType.Bool or FieldType.Enum => FieldKind.Varint,
                FieldType.Fixed32 or FieldType.SFixed32 or FieldType.Float => FieldKind.Fixed32,
                FieldType.Fixed64 or FieldType.SFixed64 or FieldType.Double => FieldKind.Fixed64,
                _ => FieldKind.Refused,
            };
            return !field.IsRepeated ? scalar : scalar switch
            {
                FieldKind.Varint => FieldKind.PackedVarint,
                FieldKind.Fixed32 => FieldKind.PackedFixed32,
                FieldKind.Fixed64 => FieldKind.PackedFixed64,
                _ => scalar,
            };
        }
    }
}
