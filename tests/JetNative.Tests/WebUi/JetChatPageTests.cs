using System.Net;
using System.Text;
using JetNative.Tests.Support;
using JetNative.WebUi;
using Xunit;

namespace JetNative.Tests.WebUi;

/// <summary>The chat page as served: one self-contained HTML file at / (the browser test drives it).</summary>
public sealed class JetChatPageTests
{
    [Fact]
    public async Task The_page_is_served_at_the_root_as_html()
    {
        await using FakeOpenAiServer server = await FakeOpenAiServer.StartAsync(map: app => app.MapJetChatPage());
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        foreach (string path in new[] { "/", "/index.html" })
        {
            using HttpResponseMessage response = await http.GetAsync(new Uri(server.Address, path), TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            string html = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
            Assert.Equal(Encoding.UTF8.GetString(JetChatPage.Content.Span), html);
        }
    }

    [Fact]
    public void The_page_is_self_contained_and_uses_the_openai_endpoints()
    {
        string html = Encoding.UTF8.GetString(JetChatPage.Content.Span);
        Assert.StartsWith("<!DOCTYPE html>", html, StringComparison.Ordinal);
        Assert.Contains("/v1/chat/completions", html, StringComparison.Ordinal);
        Assert.Contains("/v1/models", html, StringComparison.Ordinal);
        Assert.Contains("AbortController", html, StringComparison.Ordinal);
        // Nothing fetched from elsewhere: no external scripts, styles or fonts.
        Assert.DoesNotContain("src=\"http", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("href=\"http", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", html, StringComparison.Ordinal);
    }
}
