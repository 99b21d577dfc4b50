using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;
using Google.Protobuf;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Sidecars.Envoy.Authorization;
using Sidecars.Envoy.Wire;

namespace Sidecars.Server.Wire;

/// <summary>
/// Looks at the 5-byte gRPC message header of each gRPC request before Grpc.AspNetCore does (issue 7, finding 20):
/// <list type="bullet">
/// <item>a <c>Check</c> over the message limit is answered with a 403 <c>CheckResponse</c> ("request too large"),
/// not RESOURCE_EXHAUSTED, which <c>failure_mode_allow: true</c> would turn into an allow;</item>
/// <item>any other message with a length of 2^31 or more gets RESOURCE_EXHAUSTED like any message over the limit
/// (Grpc.AspNetCore throws an <c>IOException</c>, "Message too large", which ends as UNKNOWN);</item>
/// <item>a compressed flag other than 0 or 1 gets INTERNAL, the status gRPC gives framing errors (it throws an
/// <c>InvalidDataException</c>: UNKNOWN).</item>
/// </list>
/// Everything else goes on untouched: the header is peeked, not consumed.
/// </summary>
internal sealed class GrpcFrameGuard(RequestDelegate next, IOptions<GrpcServiceOptions> options)
{
    private const int HeaderSize = 5;
    private const string TooLarge = "Received message exceeds the maximum configured message size.";

    private static readonly string CheckPath = EnvoyWire.Check.FullName; // "/service/method"

    private readonly int _maxMessageBytes = options.Value.MaxReceiveMessageSize ?? int.MaxValue;

    public Task InvokeAsync(HttpContext context)
    {
        var contentType = context.Request.ContentType;
        if (contentType is null || !contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
        {
            return next(context);
        }

        // Grpc.AspNetCore lifts Kestrel's body size limit for gRPC (its own message limit applies) and can
        // only do so before the body is read: do it here, since the header is read first now.
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodySize)
        {
            bodySize.MaxRequestBodySize = null;
        }

        // Envoy's unary message usually arrives with its headers: a synchronous look at it skips the asynchronous
        // read's state machine and the RequestAborted token source (docs/BENCHMARKS.md, "The frame guard").
        var reader = context.Request.BodyReader;
        if (reader.TryRead(out var ready))
        {
            if (ready.Buffer.Length >= HeaderSize || ready.IsCompleted || ready.IsCanceled)
            {
                return Continue(context, ready);
            }

            // Fewer than five bytes so far: all of them examined, so the read below waits for more.
            reader.AdvanceTo(ready.Buffer.Start, ready.Buffer.End);
        }

        var read = reader.ReadAtLeastAsync(HeaderSize, context.RequestAborted);
        return read.IsCompletedSuccessfully ? Continue(context, read.Result) : Awaited(context, read);
    }

    private async Task Awaited(HttpContext context, ValueTask<ReadResult> read)
    {
        ReadResult result;
        try
        {
            result = await read.ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The client went away or broke the stream: gRPC's own read sees the same and answers it.
            await next(context).ConfigureAwait(false);
            return;
        }

        await Continue(context, result).ConfigureAwait(false);
    }

    private Task Continue(HttpContext context, ReadResult result)
    {
        var buffer = result.Buffer;
        var flag = 0;
        var length = 0u;
        if (buffer.Length >= HeaderSize)
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            buffer.Slice(0, HeaderSize).CopyTo(header);
            flag = header[0];
            length = BinaryPrimitives.ReadUInt32BigEndian(header[1..]);
        }

        // Nothing consumed: the gRPC handler reads the same bytes again.
        context.Request.BodyReader.AdvanceTo(buffer.Start);
        if (flag > 1)
        {
            return Refuse(context, 13, "Unexpected compressed flag value in message header.");
        }

        if (length > _maxMessageBytes && string.Equals(context.Request.Path.Value, CheckPath, StringComparison.Ordinal))
        {
            var deny = context.RequestServices.GetRequiredService<AuthorizationServiceAdapter>().DenyUnreadable("request too large");
            return AnswerAsync(context, deny);
        }

        return length > int.MaxValue ? Refuse(context, 8, TooLarge) : next(context);
    }

    /// <summary>A trailers-only gRPC answer, as Grpc.AspNetCore writes for an error before any message.</summary>
    private static Task Refuse(HttpContext context, int status, string message)
    {
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        response.Headers["grpc-status"] = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
        response.Headers["grpc-message"] = message;
        return Task.CompletedTask;
    }

    /// <summary>A unary gRPC answer with one message, written before the request body is read.</summary>
    private static async Task AnswerAsync(HttpContext context, IMessage message)
    {
        var size = message.CalculateSize();
        var frame = new byte[HeaderSize + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1), (uint)size);
        message.WriteTo(frame.AsSpan(HeaderSize));
        var response = context.Response;
        response.StatusCode = StatusCodes.Status200OK;
        response.ContentType = "application/grpc";
        await response.Body.WriteAsync(frame, context.RequestAborted).ConfigureAwait(false);
        response.AppendTrailer("grpc-status", "0");
    }
}
