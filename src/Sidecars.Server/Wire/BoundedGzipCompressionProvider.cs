using System.IO.Compression;
using Grpc.Core;
using Grpc.Net.Compression;

namespace Sidecars.Server.Wire;

/// <summary>
/// gzip for gRPC messages, with the receive limit applied to the inflated size and corrupt data answered as
/// INTERNAL (as grpc-go does), not as the UNKNOWN of an escaped <see cref="InvalidDataException"/>.
/// </summary>
internal sealed class BoundedGzipCompressionProvider(int maxMessageBytes) : ICompressionProvider
{
    public string EncodingName => "gzip";

    public Stream CreateCompressionStream(Stream stream, CompressionLevel? compressionLevel) =>
        new GZipStream(stream, compressionLevel ?? CompressionLevel.Fastest, leaveOpen: true);

    public Stream CreateDecompressionStream(Stream stream) =>
        new BoundedReadStream(new GZipStream(stream, CompressionMode.Decompress), maxMessageBytes);

    private sealed class BoundedReadStream(Stream inner, int limit) : Stream
    {
        private static readonly Status TooLarge = new(StatusCode.ResourceExhausted, "Received message exceeds the maximum configured message size.");
        private static readonly Status Corrupt = new(StatusCode.Internal, "The compressed message could not be decompressed.");

        private long _read;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => _read;
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            int read;
            try
            {
                // One byte more than the limit is enough to know it is exceeded.
                read = inner.Read(buffer[..(int)Math.Min(buffer.Length, limit - _read + 1)]);
            }
            catch (InvalidDataException)
            {
                throw new RpcException(Corrupt);
            }

            _read += read;
            if (_read > limit)
            {
                throw new RpcException(TooLarge);
            }

            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
