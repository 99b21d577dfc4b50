using System.Security.Cryptography;
using System.Text;

namespace Sidecars.Redis;

/// <summary>
/// The one Lua script: decides every bucket of a request (or of one cluster slot) with GCRA or a fixed
/// window on Redis's own clock, charges all or none, and lets a bucket's key expire when it is full again.
/// Several concurrent requests may share one call; each stays all-or-nothing on its own.
/// </summary>
internal static class BucketScript
{
    /// <summary>Values per key in ARGV: algorithm (0 token bucket, 1 fixed window), unit µs, rate, burst, hits, enforced.</summary>
    public const int ArgsPerKey = 6;

    // One call decides one or more independent requests (concurrent decisions coalesced into one round trip).
    // ARGV: request count, then per request its key count and ArgsPerKey values per key; KEYS: all keys in order.
    // Each request is all-or-nothing on its own; a later request sees the charges of the earlier ones.
    // Reply per request: charged (1/0), then over, remaining, reset µs per key.
    // Times are microseconds: Unix µs (~1.8e15) stay exact in Lua's doubles, Unix ns would not.
    // Numbers written back are formatted with %.0f because Redis turns Lua numbers into strings with %.14g.
    public const string Source = """
        local t = redis.call('TIME')
        local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
        local committed = {}
        local out = {}
        local a = 2
        local k = 0
        for r = 1, tonumber(ARGV[1]) do
          local n = tonumber(ARGV[a])
          a = a + 1
          local overlay = {}
          local verdicts = {}
          local denied = false
          for i = 1, n do
            local key = KEYS[k + i]
            local algorithm = tonumber(ARGV[a])
            local unit = tonumber(ARGV[a + 1])
            local rate = tonumber(ARGV[a + 2])
            local burst = tonumber(ARGV[a + 3])
            local hits = tonumber(ARGV[a + 4])
            local enforced = ARGV[a + 5] == '1'
            a = a + 6
            local stored = overlay[key]
            if stored == nil then stored = committed[key] end
            if stored == nil then stored = redis.call('GET', key) end
            local over, remaining, reset, value, ttl = 0, 0, 0, false, 0
            if algorithm == 1 then
              local start = now - (now % unit)
              reset = start + unit - now
              local count = 0
              if stored then
                local sep = string.find(stored, ':', 1, true)
                if sep and tonumber(string.sub(stored, 1, sep - 1)) == start then
                  count = tonumber(string.sub(stored, sep + 1))
                end
              end
              if hits == 0 then
                if count >= rate then over = 1 else remaining = rate - count end
              elseif count + hits > rate then
                over = 1
              else
                remaining = rate - count - hits
                value = string.format('%.0f:%.0f', start, count + hits)
                ttl = reset
              end
            elseif rate == 0 or hits > burst then
              over = 1
              reset = unit
            else
              local interval = unit / rate
              local tolerance = interval * burst
              local tat = now
              if stored then tat = math.max(tonumber(stored), now) end
              local cost = interval * hits
              if hits == 0 then cost = interval end
              local newtat = tat + cost
              if newtat - now > tolerance then
                over = 1
                reset = newtat - tolerance - now
              elseif hits == 0 then
                remaining = math.floor((tolerance - (tat - now)) / interval)
                reset = tat - now
              else
                remaining = math.floor((tolerance - (newtat - now)) / interval)
                reset = newtat - now
                value = string.format('%.0f', math.floor(newtat))
                ttl = reset
              end
            end
            if over == 1 and enforced then denied = true end
            if value then overlay[key] = value end
            verdicts[i] = { over, remaining, reset, value, ttl }
          end
          if denied then
            out[#out + 1] = 0
          else
            out[#out + 1] = 1
            for i = 1, n do
              local v = verdicts[i]
              if v[4] then
                committed[KEYS[k + i]] = v[4]
                redis.call('SET', KEYS[k + i], v[4], 'PX', math.max(1, math.ceil(v[5] / 1000)))
              end
            end
          end
          for i = 1, n do
            local v = verdicts[i]
            out[#out + 1] = v[1]
            out[#out + 1] = math.min(v[2], 4294967295)
            out[#out + 1] = math.ceil(v[3])
          end
          k = k + n
        end
        return out
        """;

    public static readonly byte[] Sha1 = SHA1.HashData(Encoding.UTF8.GetBytes(Source));
}
