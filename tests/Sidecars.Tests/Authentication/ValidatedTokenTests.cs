using System.Text.Json;
using Sidecars.Authentication;

namespace Sidecars.Tests.Authentication;

/// <summary>Scopes are read from the claims in place (a cached token keeps no list of them), exactly as parsed.</summary>
public sealed class ValidatedTokenTests
{
    private static ValidatedToken Token(string claimsJson) => new("RS256", "k1", JsonDocument.Parse(claimsJson).RootElement.Clone(), null);

    [Theory]
    [InlineData("""{"scope":"a b  c"}""", "a", true)]
    [InlineData("""{"scope":"a b  c"}""", "c", true)]
    [InlineData("""{"scope":"a b  c"}""", "a b", false)]
    [InlineData("""{"scope":"ab"}""", "a", false)]
    [InlineData("""{"scope":"a"}""", "ab", false)]
    [InlineData("""{"scope":" a "}""", "a", true)]
    [InlineData("""{"scope":"https:\/\/api.example.com\/read orders"}""", "https://api.example.com/read", true)]
    [InlineData("""{"scope":"\u006frders:read"}""", "orders:read", true)]
    [InlineData("""{"scope":"a\u0020b"}""", "b", true)]
    [InlineData("""{"scope":"caf\u00e9"}""", "café", true)]
    [InlineData("""{"scp":["a\/b","c"]}""", "a/b", true)]
    [InlineData("""{"scp":["a b"]}""", "a", false)]
    [InlineData("""{"scp":"x y"}""", "y", true)]
    [InlineData("""{"scope":"a","scp":["b"]}""", "b", true)]
    [InlineData("""{"scope":7,"scp":[7,null]}""", "7", false)]
    [InlineData("""{"sub":"a"}""", "a", false)]
    public void A_scope_is_granted_as_the_parsed_list_says(string claims, string scope, bool granted)
    {
        var token = Token(claims);
        Assert.Equal(granted, token.HasScope(scope));
        Assert.Equal(granted, token.Scopes.Contains(scope));
    }

    [Fact]
    public void An_empty_or_unencodable_scope_is_never_granted()
    {
        var token = Token("""{"scp":["","\ufffd"],"scope":"\ufffd"}""");
        Assert.False(token.HasScope(""));
        Assert.False(token.HasScope("\ud800"));
        Assert.True(token.HasScope("\ufffd"));
    }

    [Fact]
    public void Asking_for_a_scope_allocates_nothing_even_through_escapes()
    {
        var long_ = string.Join(' ', Enumerable.Range(0, 100).Select(i => $"scope-{i}"));
        var token = Token($$"""{"scope":"https:\/\/api.example.com\/read {{long_}} last","scp":["a\/b"]}""");
        Assert.True(token.HasScope("last") && token.HasScope("a/b") && !token.HasScope("missing"));
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            token.HasScope("last");
            token.HasScope("a/b");
            token.HasScope("https://api.example.com/read");
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
