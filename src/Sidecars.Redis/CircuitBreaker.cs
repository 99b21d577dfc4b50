namespace Sidecars.Redis;

/// <summary>
/// Stops calling a failing Redis for a short break after consecutive failures, so a dead backend does not
/// add its timeout to every decision. After the break one call probes; success closes the circuit.
/// </summary>
internal sealed class CircuitBreaker(int threshold, TimeSpan breakDuration, TimeProvider time)
{
    private int _failures;
    private long _openUntil;
    private int _probing;

    public bool IsOpen => Volatile.Read(ref _openUntil) > time.GetTimestamp();

    public int ConsecutiveFailures => Volatile.Read(ref _failures);

    /// <summary>Whether a call may go to Redis now: circuit closed, or the one probe after a break.</summary>
    public bool TryEnter()
    {
        var openUntil = Volatile.Read(ref _openUntil);
        if (openUntil == 0)
        {
            return true;
        }

        if (openUntil > time.GetTimestamp())
        {
            return false;
        }

        return Interlocked.CompareExchange(ref _probing, 1, 0) == 0;
    }

    public void Success()
    {
        Volatile.Write(ref _failures, 0);
        Volatile.Write(ref _openUntil, 0);
        Volatile.Write(ref _probing, 0);
    }

    public void Failure()
    {
        var failures = Interlocked.Increment(ref _failures);
        if (failures >= threshold || Volatile.Read(ref _probing) == 1)
        {
            Volatile.Write(ref _openUntil, time.GetTimestamp() + (long)(breakDuration.TotalSeconds * time.TimestampFrequency));
            Volatile.Write(ref _probing, 0);
        }
    }
}
