using Sidecars.Authentication;

namespace Sidecars.Authorization;

/// <summary>
/// The tokens of one request, found and validated lazily per provider, through the token cache. Instances
/// are reused (one per thread), so a request whose token is cached allocates nothing here.
/// </summary>
public sealed class RequestTokens : ITokenSource
{
    [ThreadStatic]
    private static RequestTokens? t_cached;

    private readonly Dictionary<string, ProviderToken> _decided = new(StringComparer.Ordinal);
    private IRequestView _request = null!;
    private IReadOnlyDictionary<string, JwtProvider> _providers = null!;
    private TokenCache _cache = null!;
    private TimeProvider _time = null!;
    private FailedTokenCache? _failures;

    /// <summary>A reset instance for this request; <c>failures</c> remembers bad signatures (issue 7, finding 8), null does not.</summary>
    public static RequestTokens Rent(IRequestView request, IReadOnlyDictionary<string, JwtProvider> providers, TokenCache cache, TimeProvider time, FailedTokenCache? failures = null)
    {
        var tokens = t_cached ?? new RequestTokens();
        t_cached = null;
        tokens._request = request;
        tokens._providers = providers;
        tokens._cache = cache;
        tokens._time = time;
        tokens._failures = failures;
        return tokens;
    }

    public static void Return(RequestTokens tokens)
    {
        tokens._decided.Clear();
        tokens._request = null!;
        t_cached = tokens;
    }

    public ProviderToken For(string provider)
    {
        if (_decided.TryGetValue(provider, out var known))
        {
            return known;
        }

        var result = Find(provider);
        _decided[provider] = result;
        return result;
    }

    public ProviderToken ForApiKey(Services.ApiKeySet set)
    {
        if (_decided.TryGetValue(set.QualifiedName, out var known))
        {
            return known;
        }

        ProviderToken result;
        if (!Extract(_request, set.Locations, out var key))
        {
            result = ProviderToken.Missing;
        }
        else
        {
            // Never the key in a reason: it is a secret, and a wrong one may be another set's.
            result = set.Find(key) is { } found
                ? new ProviderToken(TokenState.Valid, found.Identity)
                : new ProviderToken(TokenState.Invalid, Failure: JwtFailure.Invalid("API key is not known"));
        }

        _decided[set.QualifiedName] = result;
        return result;
    }

    private ProviderToken Find(string name)
    {
        if (!_providers.TryGetValue(name, out var provider))
        {
            return new ProviderToken(TokenState.Invalid, Failure: JwtFailure.Invalid($"unknown provider '{name}'"));
        }

        if (!Extract(_request, provider.Locations, out var token))
        {
            return ProviderToken.Missing;
        }

        var keys = provider.Keys;
        if (_cache.TryGet(token, provider, keys, out var cached))
        {
            return new ProviderToken(TokenState.Valid, cached);
        }

        var now = _time.GetUtcNow();
        if (_failures is not null && _failures.TryGet(token, provider, keys, now, out var known))
        {
            return new ProviderToken(TokenState.Invalid, Failure: known);
        }

        var tokenText = token.ToString();
        if (!JwtValidator.TryValidate(tokenText, keys, provider.Options, now, out var validated, out var failure))
        {
            if (failure.Cacheable)
            {
                _failures?.Add(token, provider, keys, failure, now);
            }

            if (failure.UnknownKeyId)
            {
                // The issuer may have rotated its keys; the source fetches again, at most once per its minimum interval.
                provider.Refresher?.RequestRefresh();
            }

            // No keys at all: say why (the fetch error), not "no key with kid" (issue 7, finding 16).
            failure = keys.Count == 0 && provider.KeysUnavailableReason is { } unavailable ? JwtFailure.UnknownKey(unavailable) : failure;
            return new ProviderToken(TokenState.Invalid, Failure: failure);
        }

        // Saturating: an exp at the end of year 9999 plus the skew must not overflow (issue 7, finding 1).
        var until = validated!.Expires is { } exp ? JwtValidator.SaturatingAdd(exp, provider.Options.ClockSkew) : now.AddMinutes(5);
        _cache.Add(tokenText, provider, validated, until);
        return new ProviderToken(TokenState.Valid, validated);
    }

    /// <summary>
    /// The token from the first location that has one: a header value after its prefix (compared
    /// case-insensitively, as auth schemes are), a query parameter, or a cookie. The span is valid for the request.
    /// </summary>
    public static bool Extract(IRequestView request, IReadOnlyList<TokenLocation> locations, out ReadOnlySpan<char> token)
    {
        token = default;
        for (var i = 0; i < locations.Count; i++)
        {
            var location = locations[i];
            switch (location.Kind)
            {
                case TokenLocationKind.Header:
                    if (request.TryHeader(location.Name, out var value) && value.StartsWith(location.Prefix, StringComparison.OrdinalIgnoreCase))
                    {
                        token = value[location.Prefix.Length..].Trim();
                        if (token.Length > 0)
                        {
                            return true;
                        }
                    }

                    break;
                case TokenLocationKind.QueryParameter:
                    if (FindPair(QueryOf(request.Path), '&', location.Name, out token))
                    {
                        return true;
                    }

                    break;
                case TokenLocationKind.Cookie:
                    if (request.TryHeader("cookie", out var cookies) && FindPair(cookies, ';', location.Name, out token))
                    {
                        return true;
                    }

                    break;
            }
        }

        token = default;
        return false;
    }

    private static ReadOnlySpan<char> QueryOf(string path)
    {
        var start = path.IndexOf('?', StringComparison.Ordinal);
        if (start < 0)
        {
            return default;
        }

        var query = path.AsSpan(start + 1);
        var fragment = query.IndexOf('#');
        return fragment < 0 ? query : query[..fragment];
    }

    private static bool FindPair(ReadOnlySpan<char> text, char separator, string name, out ReadOnlySpan<char> value)
    {
        foreach (var range in text.Split(separator))
        {
            var pair = text[range].Trim();
            var equals = pair.IndexOf('=');
            if (equals > 0 && pair[..equals].SequenceEqual(name) && equals < pair.Length - 1)
            {
                value = pair[(equals + 1)..];
                return true;
            }
        }

        value = default;
        return false;
    }
}
