using System.Buffers;
using System.Collections.Concurrent;
using System.Diagnostics.CodeAnalysis;
using Sidecars.Config;

namespace Sidecars.RateLimiting;

/// <summary>
/// Decides a rate limit request against the active snapshot: resolve each descriptor's limits with
/// envoyproxy/ratelimit's matching rules, apply <c>replaces</c>, then let the store decide all buckets at once.
/// </summary>
public sealed class RateLimitEngine
{
    private const int MaxCachedOverrides = 4096;
    private const int StackKeyLimit = 512;

    // Separators of a bucket key; escaped inside keys and values so two descriptors can never share a bucket by accident.
    private const char EntrySeparator = '|';
    private const char ValueSeparator = '=';
    private const char LimitSeparator = '#';
    private const char Escape = '\\';
    private static readonly SearchValues<char> Separators = SearchValues.Create([EntrySeparator, ValueSeparator, LimitSeparator, Escape]);

    private readonly ConfigState _config;
    private readonly IBucketStore _store;
    private readonly RateLimitEngineOptions _options;
    private readonly ConcurrentDictionary<(RateLimitUnit, uint), CompiledLimit[]> _overrides = new();

    public RateLimitEngine(ConfigState config, IBucketStore store, RateLimitEngineOptions? options = null)
    {
        _config = config;
        _store = store;
        _options = options ?? new RateLimitEngineOptions();
    }

    public RateLimitEngineOptions Options => _options;

    /// <summary>
    /// Decides <paramref name="query"/>, filling <see cref="RateLimitQuery.Outcomes"/> and <see cref="RateLimitQuery.OverallCode"/>.
    /// Completes synchronously with an in-memory store. Throws <see cref="RateLimitRequestException"/> for a malformed request.
    /// </summary>
    public ValueTask<RateLimitCode> DecideAsync(RateLimitQuery query, CancellationToken cancellationToken = default)
    {
        Validate(query);
        query.Batch.Clear();
        var snapshot = _config.Current;
        query.Snapshot = snapshot;
        snapshot.RateLimits.DomainLookup.TryGetValue(query.DomainName, out var domain);
        var resolved = query.Resolved;
        var outcomes = query.OutcomesMutable;
        for (var i = 0; i < resolved.Length; i++)
        {
            outcomes[i] = new DescriptorOutcome { Code = RateLimitCode.Ok };
            if (domain is null)
            {
                continue;
            }

            var input = query.Descriptors[i];
            resolved[i] = input.HasOverride ? Override(input) : Match(domain.Root, query.EntriesOf(i), query.Text);
        }

        query.Batch.Domain = domain;
        BuildBatch(query);
        if (query.Batch.Count == 0)
        {
            return new ValueTask<RateLimitCode>(Finish(query));
        }

        var pending = _store.ApplyAsync(query.Batch, cancellationToken);
        return pending.IsCompletedSuccessfully
            ? new ValueTask<RateLimitCode>(Finish(query))
            : AwaitStore(pending, query);
    }

    private async ValueTask<RateLimitCode> AwaitStore(ValueTask<bool> pending, RateLimitQuery query)
    {
        await pending.ConfigureAwait(false);
        return Finish(query);
    }

    /// <summary>
    /// envoyproxy/ratelimit's lookup: at each level try <c>key_value</c>, then the wildcard values in file
    /// order, then the key-only default. A limit counts only at the request's last entry; there is no backtracking.
    /// </summary>
    public static CompiledLimit[]? Match(DescriptorNode domain, ReadOnlySpan<DescriptorEntry> entries, ReadOnlySpan<char> text)
    {
        CompiledLimit[]? limits = null;
        var node = domain;
        for (var i = 0; i < entries.Length; i++)
        {
            var key = entries[i].KeyIn(text);
            var value = entries[i].ValueIn(text);
            var next = FindExact(node, key, value);
            if (next is null)
            {
                foreach (var wildcard in node.Wildcards)
                {
                    if (key.SequenceEqual(wildcard.Key) && wildcard.Pattern.Matches(value))
                    {
                        next = wildcard.Node;
                        break;
                    }
                }
            }

            if (next is null)
            {
                node.ChildLookup.TryGetValue(key, out next);
            }

            if (next is null)
            {
                break;
            }

            if (next.Limits is not null && i == entries.Length - 1)
            {
                limits = next.Limits;
            }

            if (!next.HasChildren)
            {
                break;
            }

            node = next;
        }

        return limits;
    }

    private static DescriptorNode? FindExact(DescriptorNode node, ReadOnlySpan<char> key, ReadOnlySpan<char> value)
    {
        var length = key.Length + 1 + value.Length;
        char[]? rented = null;
        var composite = length <= StackKeyLimit ? stackalloc char[length] : (rented = ArrayPool<char>.Shared.Rent(length));
        key.CopyTo(composite);
        composite[key.Length] = '_';
        value.CopyTo(composite[(key.Length + 1)..]);
        node.ChildLookup.TryGetValue(composite[..length], out var next);
        if (rented is not null)
        {
            ArrayPool<char>.Shared.Return(rented);
        }

        return next;
    }

    private CompiledLimit[] Override(DescriptorInput input)
    {
        var key = (input.OverrideUnit, input.OverrideRequestsPerUnit);
        if (_overrides.TryGetValue(key, out var cached))
        {
            return cached;
        }

        CompiledLimit[] created = [new CompiledLimit(input.OverrideUnit, input.OverrideRequestsPerUnit, keySuffix: "ovr:" + RateLimitUnits.Name(input.OverrideUnit))];
        return _overrides.Count < MaxCachedOverrides ? _overrides.GetOrAdd(key, created) : created;
    }

    private void BuildBatch(RateLimitQuery query)
    {
        var batch = query.Batch;
        var resolved = query.Resolved;
        var outcomes = query.OutcomesMutable;
        var globalShadow = _options.GlobalShadowMode;
        for (var i = 0; i < resolved.Length; i++)
        {
            var limits = resolved[i];
            if (limits is null)
            {
                continue;
            }

            var hits = query.Descriptors[i].HitsAddend >= 0 ? (ulong)query.Descriptors[i].HitsAddend : Math.Max(query.HitsAddend, 1u);
            foreach (var limit in limits)
            {
                if (limit.Unlimited)
                {
                    outcomes[i].Unlimited = true;
                    outcomes[i].Remaining = uint.MaxValue;
                    continue;
                }

                if (limit.Name is not null && IsReplaced(limit.Name, resolved))
                {
                    continue;
                }

                batch.Add(limit, i, hits, enforced: !limit.ShadowMode && !globalShadow);
                AppendKey(batch, query.DomainName, query.EntriesOf(i), query.Text, limit.KeySuffix);
            }
        }
    }

    /// <summary>envoyproxy/ratelimit's <c>replaces</c>: a named limit is dropped when any matched limit of the request names it.</summary>
    private static bool IsReplaced(string name, Span<CompiledLimit[]?> resolved)
    {
        foreach (var limits in resolved)
        {
            if (limits is null)
            {
                continue;
            }

            foreach (var limit in limits)
            {
                if (Array.IndexOf(limit.Replaces, name) >= 0)
                {
                    return true;
                }
            }
        }

        return false;
    }

    /// <summary>Bucket key: <c>domain|key=value|key=value#suffix</c>, with separators escaped. See docs/CONFIG.md.</summary>
    private static void AppendKey(BucketBatch batch, ReadOnlySpan<char> domain, ReadOnlySpan<DescriptorEntry> entries, ReadOnlySpan<char> text, string suffix)
    {
        // Room for every character escaped, so the key is written in one pass with no bounds checks between parts.
        var most = 2 * domain.Length + 1 + suffix.Length;
        foreach (var entry in entries)
        {
            most += 2 + 2 * (entry.KeyLength + entry.ValueLength);
        }

        var key = batch.ReserveKey(most);
        var at = WriteEscaped(key, domain);
        foreach (var entry in entries)
        {
            key[at++] = EntrySeparator;
            at += WriteEscaped(key[at..], entry.KeyIn(text));
            key[at++] = ValueSeparator;
            at += WriteEscaped(key[at..], entry.ValueIn(text));
        }

        key[at++] = LimitSeparator;
        suffix.CopyTo(key[at..]);
        batch.CommitKey(at + suffix.Length);
    }

    private static int WriteEscaped(Span<char> destination, ReadOnlySpan<char> text)
    {
        var at = 0;
        while (true)
        {
            var found = text.IndexOfAny(Separators);
            if (found < 0)
            {
                text.CopyTo(destination[at..]);
                return at + text.Length;
            }

            text[..found].CopyTo(destination[at..]);
            at += found;
            destination[at++] = Escape;
            destination[at++] = text[found];
            text = text[(found + 1)..];
        }
    }

    private RateLimitCode Finish(RateLimitQuery query)
    {
        var outcomes = query.OutcomesMutable;
        var ops = query.Batch.Operations;
        foreach (ref readonly var op in ops)
        {
            ref var outcome = ref outcomes[op.Descriptor];
            var first = outcome.Limit is null;
            if (op.OverLimit)
            {
                if (op.Limit.ShadowMode)
                {
                    // Shadow mode: counted as over, answered as OK, and reported unless a real over-limit is.
                    if (outcome.Code != RateLimitCode.OverLimit)
                    {
                        Report(ref outcome, op);
                        outcome.ShadowedOverLimit = true;
                    }
                }
                else if (outcome.Code != RateLimitCode.OverLimit)
                {
                    Report(ref outcome, op);
                    outcome.Code = RateLimitCode.OverLimit;
                    outcome.ShadowedOverLimit = false;
                }
            }
            else if (outcome.Code != RateLimitCode.OverLimit && !outcome.ShadowedOverLimit && (first || op.Remaining < outcome.Remaining))
            {
                // Several limits on one descriptor: report the most restrictive.
                Report(ref outcome, op);
            }
        }

        var overall = RateLimitCode.Ok;
        foreach (ref readonly var outcome in outcomes)
        {
            if (outcome.Code == RateLimitCode.OverLimit)
            {
                overall = RateLimitCode.OverLimit;
            }
        }

        if (_options.GlobalShadowMode)
        {
            overall = RateLimitCode.Ok;
        }

        query.OverallCode = overall;
        return overall;
    }

    private static void Report(ref DescriptorOutcome outcome, in BucketOperation op)
    {
        outcome.Limit = op.Limit;
        outcome.Remaining = op.OverLimit ? 0 : op.Remaining;
        outcome.ResetAfterNanos = op.ResetAfterNanos;
        outcome.Unlimited = false;
    }

    private void Validate(RateLimitQuery query)
    {
        if (query.DomainName.IsEmpty)
        {
            Throw("rate limit domain must not be empty");
        }

        if (query.DescriptorCount == 0)
        {
            Throw("rate limit descriptor list must not be empty");
        }

        if (query.DescriptorCount > _options.MaxDescriptors)
        {
            Throw($"rate limit request has {query.DescriptorCount} descriptors; at most {_options.MaxDescriptors} are accepted");
        }

        for (var i = 0; i < query.DescriptorCount; i++)
        {
            var input = query.Descriptors[i];
            if (input.EntryCount == 0)
            {
                Throw($"descriptor {i} has no entries");
            }

            if (input.EntryCount > _options.MaxEntriesPerDescriptor)
            {
                Throw($"descriptor {i} has {input.EntryCount} entries; at most {_options.MaxEntriesPerDescriptor} are accepted");
            }

            if (input.HasOverride && RateLimitUnits.Seconds(input.OverrideUnit) == 0)
            {
                Throw($"descriptor {i} has a limit override without a valid unit");
            }

            foreach (var entry in query.EntriesOf(i))
            {
                if (entry.KeyLength == 0)
                {
                    Throw($"descriptor {i} has an entry with an empty key");
                }

                if (entry.KeyLength > _options.MaxEntryLength || entry.ValueLength > _options.MaxEntryLength)
                {
                    Throw($"descriptor {i} has an entry longer than {_options.MaxEntryLength} characters");
                }
            }
        }
    }

    [DoesNotReturn]
    private static void Throw(string message) => throw new RateLimitRequestException(message);
}
