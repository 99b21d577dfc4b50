using Sidecars.Authorization;

namespace Sidecars.Tests.Authorization;

/// <summary>The path and host normalisers routes are matched with (issue 7, finding 3).</summary>
public sealed class RequestPathTests
{
    private sealed record Request(string Method, string Host, string Path) : IRequestView
    {
        public string? Header(string name) => null;
    }

    [Theory]
    [InlineData("/a/b?x=1#f", "/a/b", "")]
    [InlineData("/%61dmin/%7Eu", "/admin/~u", "")]
    [InlineData("/a/%2fb", "/a/%2Fb", "/a/b /a//b")]
    [InlineData("/a/x%3bb", "/a/x%3Bb", "/a/x")]
    [InlineData("/caf%c3%a9", "/caf%C3%A9", "")]
    [InlineData("/a/./b/../c", "/a/c", "/a/./b/../c")]
    [InlineData("/a/b/..", "/a/", "/a/b/..")]
    [InlineData("/a/.", "/a/", "/a/.")]
    [InlineData("/../../a", "/a", "/../../a")]
    [InlineData("//a///b//", "/a/b/", "//a///b//")]
    [InlineData("//admin/..", "/", "/admin/.. // //admin/..")]
    [InlineData("/a;p=1/b", "/a;p=1/b", "/a/b")]
    [InlineData("/x/..;/admin", "/x/..;/admin", "/admin /x/../admin")]
    [InlineData("/x/..%2fadmin", "/x/..%2Fadmin", "/admin /x/../admin")]
    [InlineData("/file%2ejson", "/file.json", "")]
    [InlineData("/", "/", "")]
    public void Path_is_normalised_with_its_other_readings(string raw, string value, string readings)
    {
        Assert.True(RequestPath.TryParse(raw, "GET", out var path, out var reason), reason);
        Assert.Equal((value, readings), (path.Value.ToString(), string.Join(' ', path.Readings.ToArray().Select(r => r.Path))));
    }

    [Theory]
    [InlineData("/a/%2e%2e/b", "encoded dot segment")]
    [InlineData("/a/%2E/b", "encoded dot segment")]
    [InlineData("/a/.%2E", "encoded dot segment")]
    [InlineData("/a\\b", "backslash")]
    [InlineData("/a/%5Cb", "encoded backslash")]
    [InlineData("/a/%252e", "double-encoded")]
    [InlineData("/a/%2", "malformed percent-encoding")]
    [InlineData("/a/%g0", "malformed percent-encoding")]
    [InlineData("/a/%00", "encoded control character")]
    [InlineData("/a/%7f", "encoded control character")]
    [InlineData("/a\u0001", "control, space or non-ASCII")]
    [InlineData("/a b", "control, space or non-ASCII")]
    [InlineData("/\u00e9", "control, space or non-ASCII")]
    [InlineData("/a;x%2Fy", "encoded slash inside a ';' parameter")]
    [InlineData("/a%3Bx%2Fy", "encoded slash inside a ';' parameter")]
    [InlineData("/a%c0%afb", "overlong UTF-8")]
    [InlineData("a/b", "origin form")]
    [InlineData("", "origin form")]
    [InlineData("*", "origin form")]
    public void Unsafe_path_is_refused_with_the_reason(string raw, string reason)
    {
        Assert.False(RequestPath.TryParse(raw, "GET", out _, out var why));
        Assert.Contains(reason, why, StringComparison.Ordinal);
    }

    [Fact]
    public void Asterisk_is_accepted_for_options_and_an_empty_path_for_connect()
    {
        Assert.True(RequestPath.TryParse("*", "OPTIONS", out var star, out _));
        Assert.Equal("*", star.Value.ToString());
        Assert.True(RequestPath.TryParse(string.Empty, "CONNECT", out _, out _));
    }

    [Fact]
    public void Path_longer_than_the_cap_is_refused()
    {
        Assert.True(RequestPath.TryParse("/" + new string('a', RequestPath.MaxLength - 1), "GET", out _, out _));
        Assert.False(RequestPath.TryParse("/" + new string('a', RequestPath.MaxLength), "GET", out _, out var reason));
        Assert.Contains("8192", reason, StringComparison.Ordinal);
        Assert.True(RequestPath.TryParse("/a?access_token=" + new string('t', RequestPath.MaxLength), "GET", out _, out _));
    }

    [Theory]
    [InlineData("Admin.Example.com", "Admin.Example.com")]
    [InlineData("admin.example.com.", "admin.example.com")]
    [InlineData("admin.example.com.:8443", "admin.example.com")]
    [InlineData("admin.example.com:0", "admin.example.com")]
    [InlineData("[::1]:8080", "[::1]")]
    [InlineData("[2001:db8::1]", "[2001:db8::1]")]
    [InlineData("10.0.0.1:80", "10.0.0.1")]
    [InlineData("svc_internal", "svc_internal")]
    [InlineData("", "")]
    public void Host_loses_its_port_and_trailing_dot(string authority, string host)
    {
        Assert.True(RequestHost.TryParse(authority, out var name, out var reason), reason);
        Assert.Equal(host, name.ToString());
    }

    [Theory]
    [InlineData("a.example.com:abc", "port")]
    [InlineData("a.example.com:443:443", "port")]
    [InlineData("a.example.com:", "port")]
    [InlineData("a.example.com:65536", "port")]
    [InlineData(":443", "name")]
    [InlineData(" a.example.com", "name")]
    [InlineData("a.example.com ", "name")]
    [InlineData("a..example.com", "name")]
    [InlineData("a.example.com..", "name")]
    [InlineData(".", "name")]
    [InlineData("a@b.example.com", "name")]
    [InlineData("a%2eb", "name")]
    [InlineData("[::1", "IPv6")]
    [InlineData("[]", "IPv6")]
    [InlineData("[fe80::1%25eth0]", "IPv6")]
    [InlineData("[::1]x", "after its IPv6")]
    public void Malformed_host_is_refused_with_the_reason(string authority, string reason)
    {
        Assert.False(RequestHost.TryParse(authority, out _, out var why));
        Assert.Contains(reason, why, StringComparison.Ordinal);
    }

    [Fact]
    public void Route_host_in_config_is_normalised_like_the_request()
    {
        var route = new RouteMatch(host: "Admin.Example.COM.");
        Assert.Equal("admin.example.com", route.Host);
        Assert.True(route.Matches(new Request("GET", "admin.example.com.:443", "/")));
    }

    [Fact]
    public void Methods_match_in_any_case()
    {
        var route = new RouteMatch(methods: ["POST"]);
        Assert.True(route.Matches(new Request("post", "h", "/")));
        Assert.True(route.Matches(new Request("Post", "h", "/")));
        Assert.False(route.Matches(new Request("GET", "h", "/")));
    }

    [Fact]
    public void Already_normal_request_is_decided_without_allocating()
    {
        AuthRoute[] routes =
        [
            new("admin", new RouteMatch(host: "admin.example.com", pathPrefix: "/"), Requirement.Deny),
            new("exact", new RouteMatch(path: "/admin"), Requirement.Deny),
            new("orders", new RouteMatch(pathPrefix: "/orders", methods: ["GET"]), Requirement.Allow),
        ];
        var request = new Request("GET", "Orders.Example.com:443", "/orders/7/items?page=2");
        var tokens = new NoTokens();
        AuthEvaluator.Decide(routes, false, request, tokens);
        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < 100; i++)
        {
            Assert.True(AuthEvaluator.Decide(routes, false, request, tokens).Allowed);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }

    private sealed class NoTokens : ITokenSource
    {
        public ProviderToken For(string provider) => ProviderToken.Missing;
    }
}
