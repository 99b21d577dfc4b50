using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Sidecars.Tests.Authentication;
using Sidecars.Tests.Infrastructure;
using static Sidecars.Tests.Server.WireConfig;

namespace Sidecars.Tests.Server.Fuzz;

/// <summary>One generated input: what is sent, and what the generator knows about it.</summary>
/// <remarks><paramref name="Raw"/>: <paramref name="Body"/> is the whole request body, already framed (or not).</remarks>
internal sealed record FuzzCase(string Kind, byte[] Body, string? Encoding = null, bool WellFramed = true, bool MayBeAllowed = false, bool Raw = false)
{
    public string Describe()
    {
        var hex = Convert.ToHexString(Body.AsSpan(0, Math.Min(Body.Length, 1024)));
        return $"{Kind}, {Body.Length} bytes{(Encoding is null ? string.Empty : ", grpc-encoding " + Encoding)}: {hex}{(Body.Length > 1024 ? "…" : string.Empty)}";
    }
}

/// <summary>
/// Seeded generators for the server-level fuzz suite: CheckRequests, RateLimitRequests, JWTs and raw gRPC
/// frames, built byte by byte so any field can hold invalid UTF-8, then sometimes mutated. Everything is a
/// function of the <see cref="Random"/> passed in, so a case reproduces from its seed.
/// </summary>
internal static class FuzzInputs
{
    private static readonly string[] Algorithms =
    [
        "none", "None", "HS256", "HS384", "HS512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512",
        "ES256", "ES384", "ES512", "ES256K", "EdDSA", "RSA-OAEP", "dir", "", "rs256", "RS256 ", "\\ud800", "\\udfff\\ud800",
    ];

    private static readonly string[] Kids = ["rsa-1", "", "\\ud800", "rsa-1\\u0000", "../../etc/passwd", new string('k', 5000)];

    private static readonly string[] Numbers =
    [
        "0", "-1", "1e400", "-1e400", "1.5", "99999999999999999999999999", "253402300740", "253402300799", "253402300800",
        "9223372036854775807", "9223372036854775808", "-9223372036854775809", "1e-400", "0.0000001", "\"123\"", "null", "true", "[]", "{}",
    ];

    private static readonly string[] Texts =
    [
        "user-1", "", "\\ud800", "a\\udc00b", "\\u0000", "x\\r\\nx-injected: 1", "\\u00ff\\u0100", "\\uFFFD", "\\\"", new string('s', 3000),
    ];

    public static byte[] RandomBytes(Random random, int max)
    {
        var bytes = new byte[random.Next(max + 1)];
        random.NextBytes(bytes);
        return bytes;
    }

    /// <summary>Text with sometimes an invalid UTF-8 byte, an encoded surrogate, U+FFFD or control bytes in it.</summary>
    public static byte[] Text(Random random, string plain, int hugeChance = 50)
    {
        var text = new List<byte>(Utf8(plain));
        switch (random.Next(10))
        {
            case 0: text.Insert(random.Next(text.Count + 1), 0xFF); break;
            case 1: text.AddRange([0xED, 0xA0, 0x80]); break;                 // a surrogate, UTF-8 encoded
            case 2: text.AddRange([0xEF, 0xBF, 0xBD]); break;                 // U+FFFD itself
            case 3: text.AddRange([0xC3]); break;                             // a truncated sequence
            case 4: text.AddRange([0xC0, 0xAF]); break;                       // an overlong '/'
            case 5: text.AddRange(RandomBytes(random, 16)); break;
            case 6: text.AddRange([0x00, 0x0D, 0x0A]); break;
        }

        if (random.Next(hugeChance) == 0)
        {
            text.AddRange(Enumerable.Repeat((byte)'a', random.Next(1, 100_000)));
        }

        return [.. text];
    }

    private static T Pick<T>(Random random, IReadOnlyList<T> items) => items[random.Next(items.Count)];

    /// <summary>Flips, inserts, deletes or truncates a few bytes.</summary>
    public static byte[] Mutate(Random random, byte[] input)
    {
        var bytes = new List<byte>(input);
        for (var n = random.Next(1, 6); n > 0; n--)
        {
            var at = random.Next(bytes.Count + 1);
            switch (random.Next(5))
            {
                case 0 when at < bytes.Count: bytes[at] ^= (byte)(1 << random.Next(8)); break;
                case 1: bytes.Insert(at, (byte)random.Next(256)); break;
                case 2 when at < bytes.Count: bytes.RemoveAt(at); break;
                case 3: bytes.RemoveRange(at, bytes.Count - at); break;
                case 4 when at < bytes.Count: bytes[at] = 0xFF; break;
            }
        }

        return [.. bytes];
    }

    /// <summary>A CheckRequest with random method, host, path, headers and extras; MayBeAllowed only on the public route.</summary>
    public static FuzzCase CheckRequest(Random random)
    {
        var paths = new[] { "/public/x", "/api/orders", "/public/../api", "/public/%2e%2e/api", "//api", "/API", "", "*", "/public" };
        var path = random.Next(6) == 0 ? RandomBytes(random, 64) : Text(random, Pick(random, paths));
        var headers = new List<byte[]>();
        for (var i = random.Next(30); i > 0; i--)
        {
            var name = random.Next(4) == 0 ? Utf8("authorization") : Text(random, "x-h" + random.Next(5));
            var value = random.Next(4) == 0 ? Utf8("Bearer " + Encoding.ASCII.GetString(RandomBytes(random, 40).Select(b => (byte)(b % 64 + 46)).ToArray())) : Text(random, "v");
            headers.Add(Field(3, Field(1, name), Field(2, value)));
        }

        var http = new List<byte[]>
        {
            Field(2, Text(random, Pick(random, new[] { "GET", "post", "Post", "DELETE", "" }))),
            Field(4, path),
            Field(5, Text(random, Pick(random, new[] { "example.com", "admin.example.com.", "x:abc", " example.com", "[::1]:443:443", "svc.example.com", "SVC.example.com:8443" }))),
            Field(7, Text(random, "a=1")),
        };
        http.InsertRange(random.Next(http.Count + 1), headers);
        if (random.Next(5) == 0)
        {
            http.Add(Field(13, Field(1, Field(1, Text(random, "k")), Field(2, Text(random, "v")), Field(3, RandomBytes(random, 20))))); // header_map
        }

        var attributes = new List<byte[]> { Field(4, Field(2, [.. http.SelectMany(b => b)])) };
        if (random.Next(4) == 0)
        {
            attributes.Add(Field(1, Field(2, Text(random, "svc")), Field(4, Text(random, "spiffe://x")))); // source peer
            attributes.Add(Field(10, Field(1, Text(random, "ext")), Field(2, Text(random, "v"))));       // context_extensions
        }

        if (random.Next(3) == 0)
        {
            // source.address.socket_address.address, as the service route's source_ip rule and limit read it (issue 9):
            // addresses valid and not, IPv6, mapped, huge; sometimes a pipe instead, sometimes twice (merged).
            var address = Text(random, Pick(random, new[] { "10.1.2.3", "192.0.2.1", "2001:db8::1", "::ffff:10.0.0.1", "010.1.1.1", "10.1.2", "1.2.3.4.5", "", "::", "fe80::1%eth0" }));
            attributes.Add(random.Next(8) == 0
                ? Field(1, Field(1, Field(2, Text(random, "/run/x.sock"))))
                : Field(1, Field(1, Field(1, Field(2, address))), Field(4, Text(random, "spiffe://x"))));
            if (random.Next(4) == 0)
            {
                attributes.Add(Field(1, Field(1, Field(1, Field(2, Text(random, "10.9.9.9"))))));
            }
        }

        if (random.Next(6) == 0)
        {
            attributes.Add(Field(11, Field(1, Field(1, Text(random, "filter")), Field(2, NestedStruct(random, random.Next(130)))))); // metadata_context
        }

        byte[] message = Field(1, [.. attributes.SelectMany(b => b)]);
        if (random.Next(5) == 0)
        {
            message = [.. message, .. Field(random.Next(2, 1000), RandomBytes(random, 50))]; // an unknown field
        }

        var mutated = random.Next(4) == 0;
        if (mutated)
        {
            message = Mutate(random, message);
        }

        return new FuzzCase(mutated ? "mutated CheckRequest" : "CheckRequest", message);
    }

    /// <summary>google.protobuf.Struct { fields: { "k": Value { struct_value: ... } } } nested <paramref name="depth"/> times.</summary>
    private static byte[] NestedStruct(Random random, int depth)
    {
        byte[] value = Field(3, Text(random, "leaf")); // Value.string_value
        for (var i = 0; i < depth; i++)
        {
            value = Field(5, Field(1, Field(1, Utf8("k")), Field(2, value))); // Value.struct_value = Struct { fields }
        }

        return Field(1, Field(1, Utf8("root")), Field(2, value));
    }

    public static FuzzCase RateLimitRequest(Random random)
    {
        var parts = new List<byte[]>
        {
            Field(1, random.Next(4) == 0 ? Text(random, "d" + random.Next(3)) : Utf8("edge")),
        };
        // Many descriptors or entries (past the request bounds) come with small values, so that messages over
        // the 1 MiB limit stay rare: each is answered before its body is read, and a client that keeps
        // uploading refused bodies on one connection meets Kestrel's HTTP/2 ENHANCE_YOUR_CALM defense.
        var many = random.Next(10) == 0;
        var descriptors = many ? random.Next(60, 70) : random.Next(4);
        for (var d = 0; d < descriptors; d++)
        {
            var descriptor = new List<byte[]>();
            var entries = !many && random.Next(15) == 0 ? random.Next(30, 36) : random.Next(1, 4);
            var huge = many || entries > 4 ? int.MaxValue : 8;
            for (var e = 0; e < entries; e++)
            {
                var key = random.Next(3) == 0 ? Text(random, "k" + random.Next(3), hugeChance: huge) : Utf8(random.Next(2) == 0 ? "fuzz" : "remote_address");
                descriptor.Add(Field(1, Field(1, key), Field(2, Text(random, random.Next(1000).ToString(System.Globalization.CultureInfo.InvariantCulture), hugeChance: huge))));
            }

            if (random.Next(4) == 0)
            {
                var unit = random.Next(5) == 0 ? (ulong)random.NextInt64() : (ulong)random.Next(8);
                descriptor.Add(Field(2, VarintField(1, Pick(random, new ulong[] { 0, 1, uint.MaxValue, ulong.MaxValue })), VarintField(2, unit)));
            }

            if (random.Next(4) == 0)
            {
                descriptor.Add(Field(3, VarintField(1, Pick(random, new ulong[] { 0, 1, uint.MaxValue, long.MaxValue, (ulong)long.MaxValue + 1, ulong.MaxValue }))));
            }

            parts.Add(Field(2, [.. descriptor.SelectMany(b => b)]));
        }

        if (random.Next(3) == 0)
        {
            parts.Add(VarintField(3, Pick(random, new ulong[] { 0, 1, uint.MaxValue, (ulong)uint.MaxValue + 1, ulong.MaxValue })));
        }

        byte[] message = [.. parts.SelectMany(b => b)];
        var mutated = random.Next(4) == 0;
        return new FuzzCase(mutated ? "mutated RateLimitRequest" : "RateLimitRequest", mutated ? Mutate(random, message) : message);
    }

    /// <summary>A CheckRequest for the token-protected route whose authorization header carries a generated JWT.</summary>
    public static FuzzCase Jwt(Random random)
    {
        var alg = random.Next(3) == 0 ? "RS256" : Pick(random, Algorithms);
        var header = new StringBuilder("{");
        header.Append(random.Next(10) == 0 ? "\"alg\":" + Pick(random, Numbers) : $"\"alg\":\"{alg}\"");
        if (random.Next(5) != 0)
        {
            header.Append(random.Next(8) == 0 ? ",\"kid\":" + Pick(random, Numbers) : $",\"kid\":\"{Pick(random, Kids)}\"");
        }

        if (random.Next(3) == 0)
        {
            header.Append($",\"typ\":\"{Pick(random, new[] { "JWT", "at+jwt", "\\ud800", "" })}\"");
        }

        if (random.Next(8) == 0)
        {
            header.Append(",\"alg\":\"none\""); // a duplicate member
        }

        if (random.Next(10) == 0)
        {
            header.Append(",\"x\":").Append(Nested(random.Next(1, 3000)));
        }

        header.Append('}');

        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var claims = new List<string>
        {
            random.Next(8) == 0 ? $"\"iss\":{Pick(random, Numbers)}" : "\"iss\":\"https://idp.example.com/\"",
            $"\"sub\":\"{(random.Next(3) == 0 ? Pick(random, Texts) : "user-1")}\"",
            random.Next(8) == 0 ? "\"aud\":[\"x\",\"orders-api\",1,null]" : "\"aud\":\"orders-api\"",
            $"\"iat\":{now - 10}",
            random.Next(3) == 0 ? $"\"exp\":{Pick(random, Numbers)}" : $"\"exp\":{now + 600}",
        };
        if (random.Next(4) == 0)
        {
            claims.Add($"\"nbf\":{Pick(random, Numbers)}");
        }

        if (random.Next(3) == 0)
        {
            claims.Add($"\"scope\":\"{Pick(random, Texts)}\"");
        }

        if (random.Next(6) == 0)
        {
            claims.Add($"\"exp\":{Pick(random, Numbers)}"); // a duplicate member
        }

        if (random.Next(8) == 0)
        {
            claims.Add("\"deep\":" + Nested(random.Next(1, 3000)));
        }

        var headerBytes = Utf8(header.ToString());
        var payloadBytes = Utf8("{" + string.Join(',', claims.OrderBy(_ => random.Next())) + "}");
        if (random.Next(10) == 0)
        {
            headerBytes = [.. headerBytes[..^2], 0xFF, .. headerBytes[^2..]]; // a raw 0xFF in the last value
        }

        if (random.Next(10) == 0)
        {
            payloadBytes = [.. payloadBytes[..^1], .. Utf8(",\"n\":\""), 0xC3, 0x28, .. Utf8("\"}")];
        }

        var input = B64(headerBytes) + "." + B64(payloadBytes);
        var signedWith = random.Next(3) == 0 ? "RS256" : alg;
        var token = input + "." + B64(Signature(Encoding.ASCII.GetBytes(input), signedWith));

        // Only the RSA key is in the provider's JWKS: anything else signed (or unsigned) must be refused. A
        // mutated token may still decode to the same bytes (unused base64 bits), so it proves nothing.
        var mayBeAllowed = signedWith == alg && alg is "RS256" or "PS256";
        if (random.Next(4) == 0)
        {
            token = Encoding.Latin1.GetString(Mutate(random, Encoding.Latin1.GetBytes(token)));
            mayBeAllowed = true;
        }

        byte[] value = [.. Utf8(random.Next(10) == 0 ? "bearer " : "Bearer "), .. Encoding.Latin1.GetBytes(token)];
        var body = WireConfig.CheckRequest(Utf8("GET"), Utf8("example.com"), Utf8("/api/orders"), (Utf8("authorization"), value));
        return new FuzzCase("JWT " + token[..Math.Min(token.Length, 200)], body, MayBeAllowed: mayBeAllowed);
    }

    private static string Nested(int depth) => new string('[', depth) + new string(']', depth);

    private static string B64(byte[] bytes) => System.Buffers.Text.Base64Url.EncodeToString(bytes);

    private static byte[] Signature(byte[] data, string alg) => alg switch
    {
        "RS256" => TestTokens.Rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1),
        "PS256" => TestTokens.Rsa.SignData(data, HashAlgorithmName.SHA256, RSASignaturePadding.Pss),
        "ES256" => TestTokens.P256.SignData(data, HashAlgorithmName.SHA256),
        "HS256" => HMACSHA256.HashData(TestTokens.Secret, data),
        _ => [],
    };

    /// <summary>Raw request bodies: random bytes, bad and good length prefixes, compressed flags with garbage.</summary>
    public static FuzzCase RawFrame(Random random, Func<Random, FuzzCase> message)
    {
        var payload = random.Next(3) == 0 ? message(random).Body : RandomBytes(random, 64);
        switch (random.Next(9))
        {
            case 0:
                return new FuzzCase("random body", RandomBytes(random, 12), WellFramed: false, Raw: true);
            case 1:
                return new FuzzCase("well-framed random message", RawGrpc.Frame(payload), Raw: true);
            case 2:
                return new FuzzCase("length past the end", Prefixed(0, (uint)payload.Length + (uint)random.Next(1, 1000), payload), WellFramed: false, Raw: true);
            case 3:
                return new FuzzCase("data after the message", [.. RawGrpc.Frame(payload), .. RandomBytes(random, 10), 0], WellFramed: false, Raw: true);
            case 4:
                return new FuzzCase("length of 2^31 or more", Prefixed(0, 0x80000000u + (uint)random.Next(), payload), WellFramed: false, Raw: true);
            case 5:
                return new FuzzCase("compressed flag with garbage", RawGrpc.Frame(payload, compressedFlag: 1), Encoding: Pick(random, new[] { "gzip", "identity", "br", "deflate" }), WellFramed: false, Raw: true);
            case 6:
                return new FuzzCase("unknown compressed flag", RawGrpc.Frame(payload, compressedFlag: (byte)random.Next(2, 256)), WellFramed: false, Raw: true);
            case 7:
                return new FuzzCase("two messages", [.. RawGrpc.Frame(payload), .. RawGrpc.Frame(payload)], WellFramed: false, Raw: true);
            default:
                using (var compressed = new MemoryStream())
                {
                    using (var gzip = new GZipStream(compressed, CompressionLevel.Fastest, leaveOpen: true))
                    {
                        gzip.Write(payload);
                    }

                    return new FuzzCase("gzip message", RawGrpc.Frame(compressed.ToArray(), compressedFlag: 1), Encoding: "gzip", Raw: true);
                }
        }
    }

    private static byte[] Prefixed(byte flag, uint length, byte[] payload)
    {
        var frame = new byte[5 + payload.Length];
        frame[0] = flag;
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), length);
        payload.CopyTo(frame.AsSpan(5));
        return frame;
    }
}
