using System.Buffers;
using System.Buffers.Binary;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace Sidecars.Server.Wire;

/// <summary>
/// Looks at the 5-byte gRPC message header of each gRPC request before Grpc.AspNetCore does, and answers the
/// two headers it would turn into UNKNOWN: a length of 2^31 or more (it throws an <c>IOException</c>, "Message
/// too large") becomes RESOURCE_EXHAUSTED like any other message over the limit, and a compressed flag other
/// than 0 or 1 (an <c>InvalidDataException</c>) becomes INTERNAL, the status gRPC gives framing errors.
/// Everything else goes on untouched: the header is peeked, not consumed.
/// </summary>
internal sealed class GrpcFrameGuard(RequestDelegate next)
{
    private const int HeaderSize = 5;

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

        var read = context.Request.BodyReader.ReadAtLeastAsync(HeaderSize, context.RequestAborted);
        return read.IsCompletedSuccessfully ? Continue(context, read.Result) : Awaited(context, read);
    }

    private async Task Awaited(HttpContext context, ValueTask<System.IO.Pipelines.ReadResult> read)
    {
        System.IO.Pipelines.ReadResult result;
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

    private Task Continue(HttpContext context, System.IO.Pipelines.ReadResult result)
    {
        var buffer = result.Buffer;
        string? refusal = null;
        var status = 0;
        if (buffer.Length >= HeaderSize)
        {
            Span<byte> header = stackalloc byte[HeaderSize];
            buffer.Slice(0, HeaderSize).CopyTo(header);
            if (header[0] > 1)
            {
                (status, refusal) = (13, "Unexpected compressed flag value in message header.");
            }
            else if (BinaryPrimitives.ReadUInt32BigEndian(header[1..]) > int.MaxValue)
            {
                (status, refusal) = (8, "Received message exceeds the maximum configured message size.");
            }
        }

        // Nothing consumed: the gRPC handler reads the same bytes again.
        context.Request.BodyReader.AdvanceTo(buffer.Start);
        return refusal is null ? next(context) : Refuse(context, status, refusal);
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
}
