using Google.Protobuf;
using Sidecars.Load.Generator;
using Sidecars.Load.Generator.Http2;
using Sidecars.Load.Model;
using Sidecars.Load.Scenarios;
using Xunit.Abstractions;

namespace Sidecars.Tests.Load;

/// <summary>
/// What a call of the raw HTTP/2 transport allocates beside Grpc.Net.Client. The count is the process's, so it runs
/// with the other heap measurements, after the parallel tests (a compare run beside it allocated more than either).
/// </summary>
[Collection(HeapMeasurementCollection.Name)]
public sealed class H2TransportAllocationTests(ITestOutputHelper output)
{
    [Fact]
    public async Task A_call_allocates_far_less_than_with_GrpcNetClient()
    {
        await using var floor = await H2TransportTests.StartFloorAsync();
        var request = EnvoyMessages.Check(4, "Bearer x").ToByteArray();
        var h2 = await BytesPerCallAsync(Connection.Open(floor.Endpoint, ClientKind.H2), request);
        var grpc = await BytesPerCallAsync(Connection.Open(floor.Endpoint, ClientKind.Grpc), request);
        output.WriteLine($"allocated per call (whole process, 64 in flight): h2 {h2:F0} B, Grpc.Net.Client {grpc:F0} B");
        Assert.True(h2 < grpc / 2, $"h2 {h2:F0} B per call, Grpc.Net.Client {grpc:F0} B");
    }

    private static async Task<double> BytesPerCallAsync(Connection connection, byte[] request)
    {
        using (connection)
        {
            async Task Batches(int count)
            {
                for (var i = 0; i < count; i++)
                {
                    await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => connection.CallAsync(Connection.RawCheck, request)));
                }
            }

            await Batches(20);
            var before = GC.GetTotalAllocatedBytes(precise: true);
            await Batches(50);
            return (GC.GetTotalAllocatedBytes(precise: true) - before) / (50.0 * 64);
        }
    }
}

/// <summary>Tests that measure the process's heap: run alone, after the parallel collections.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class HeapMeasurementCollection
{
    public const string Name = "Heap measurements";
}
