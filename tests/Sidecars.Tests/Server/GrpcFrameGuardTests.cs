using System.Buffers;
using System.IO.Pipelines;
using Grpc.AspNetCore.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.Options;
using Sidecars.Server.Wire;

namespace Sidecars.Tests.Server;

/// <summary>
/// The frame guard on a request body that arrives in steps it controls (a pipe written by the test, no timing):
/// the first look sees fewer than the five header bytes and the guard must wait for the rest, then judge the whole
/// header and hand every byte on unconsumed.
/// </summary>
public sealed class GrpcFrameGuardTests
{
    private sealed class BodyPipe(PipeReader reader) : IRequestBodyPipeFeature
    {
        public PipeReader Reader { get; } = reader;
    }

    private static (DefaultHttpContext Context, Pipe Body) Request()
    {
        var body = new Pipe();
        var context = new DefaultHttpContext();
        context.Features.Set<IRequestBodyPipeFeature>(new BodyPipe(body.Reader));
        context.Request.ContentType = "application/grpc";
        context.Request.Path = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit";
        return (context, body);
    }

    private static GrpcFrameGuard Guard(RequestDelegate next) => new(next, Options.Create(new GrpcServiceOptions { MaxReceiveMessageSize = 1024 * 1024 }));

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public async Task A_header_in_pieces_is_waited_for_and_passed_on_whole(int first)
    {
        var (context, body) = Request();
        byte[] frame = [0, 0, 0, 0, 2, 0x0A, 0x00];
        byte[]? seen = null;
        var guard = Guard(async c =>
        {
            var read = await c.Request.BodyReader.ReadAtLeastAsync(frame.Length);
            seen = read.Buffer.ToArray();
            c.Request.BodyReader.AdvanceTo(read.Buffer.End);
        });

        await body.Writer.WriteAsync(frame.AsMemory(0, first));
        var guarded = guard.InvokeAsync(context);
        Assert.False(guarded.IsCompleted, "the guard went on with fewer than five header bytes");
        Assert.Null(seen);

        await body.Writer.WriteAsync(frame.AsMemory(first));
        await body.Writer.CompleteAsync();
        await guarded.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(frame, seen);
    }

    [Fact]
    public async Task A_bad_compressed_flag_in_pieces_answers_internal_without_the_handler()
    {
        var (context, body) = Request();
        var called = false;
        var guard = Guard(_ =>
        {
            called = true;
            return Task.CompletedTask;
        });

        await body.Writer.WriteAsync(new byte[] { 2, 0 });
        var guarded = guard.InvokeAsync(context);
        Assert.False(guarded.IsCompleted);
        await body.Writer.WriteAsync(new byte[] { 0, 0, 2, 0x0A, 0x00 });
        await guarded.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(called);
        Assert.Equal("13", context.Response.Headers["grpc-status"].ToString());
    }
}
