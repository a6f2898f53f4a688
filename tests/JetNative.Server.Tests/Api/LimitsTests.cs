using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using JetNative.Server.Tests.Support;
using Xunit;

namespace JetNative.Server.Tests.Api;

/// <summary>Queue limit (429), drain on shutdown (503, in-flight streams finish), timeouts (408), several engines.</summary>
public sealed class LimitsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpRequestMessage Stream(int maxTokens) => new(HttpMethod.Post, "/v1/completions")
    {
        Content = new StringContent($$"""{"prompt":"ROMEO:","max_tokens":{{maxTokens}},"ignore_eos":true,"stream":true}""", Encoding.UTF8, "application/json"),
    };

    [Fact]
    public async Task AFullQueueIs429WithRetryAfter()
    {
        await using var t = await TestServer.StartAsync(o => o with { MaxSequences = 1, MaxQueue = 1 });
        using HttpResponseMessage running = await t.Http.SendAsync(Stream(400), HttpCompletionOption.ResponseHeadersRead, Ct);
        using var reader = new StreamReader(await running.Content.ReadAsStreamAsync(Ct));
        await reader.ReadLineAsync(Ct);  // the first token: the only slot is busy
        using var cancelQueued = new CancellationTokenSource();
        Task<HttpResponseMessage> queued = t.Http.SendAsync(Stream(2), HttpCompletionOption.ResponseHeadersRead, cancelQueued.Token);
        while (t.Server.Router.Schedulers[0].QueueDepth == 0) await Task.Delay(5, Ct);
        var (status, body, response) = await t.PostAsync("/v1/completions", """{"prompt":"x","max_tokens":2}""", Ct);
        Assert.Equal(429, status);
        Assert.Equal("queue_full", body!.Value.GetProperty("error").GetProperty("code").GetString());
        Assert.Equal("1", response.Headers.RetryAfter?.ToString());
        cancelQueued.Cancel();
        running.Dispose();  // the client goes away: its slot is freed at the next step
        await t.Server.Router.WaitIdleAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(0, t.Server.Router.Schedulers[0].BusySlots);
    }

    [Fact]
    public async Task ShutdownDrainsInFlightStreamsAndRefusesNewRequests()
    {
        var t = await TestServer.StartAsync();
        using HttpResponseMessage running = await t.Http.SendAsync(Stream(480), HttpCompletionOption.ResponseHeadersRead, Ct);
        Task<string> rest = running.Content.ReadAsStringAsync(Ct);
        Task stop = t.DisposeAsync().AsTask();
        while (!t.Server.IsDraining) await Task.Delay(1, Ct);
        using var client = new HttpClient { BaseAddress = t.Server.BaseAddress };
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", TestServer.Key);
        HttpResponseMessage refused = await client.PostAsync("/v1/completions", new StringContent("""{"prompt":"x"}""", Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(503, (int)refused.StatusCode);
        Assert.Contains("server_draining", await refused.Content.ReadAsStringAsync(Ct), StringComparison.Ordinal);
        string stream = await rest;
        Assert.EndsWith("data: [DONE]", stream.TrimEnd(), StringComparison.Ordinal);
        Assert.Contains("\"finish_reason\":\"length\"", stream, StringComparison.Ordinal);
        await stop;
    }

    [Fact]
    public async Task ARequestPastTheTimeoutIs408()
    {
        await using var t = await TestServer.StartAsync(o => o with { Timeout = TimeSpan.FromMilliseconds(300) });
        var (status, body, _) = await t.PostAsync("/v1/completions", """{"prompt":"ROMEO:","max_tokens":100000,"ignore_eos":true}""", Ct);
        Assert.Equal(408, status);
        Assert.Equal("request_timeout", body!.Value.GetProperty("error").GetProperty("code").GetString());
        await t.Server.Router.WaitIdleAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
    }

    [Fact]
    public async Task RequestsGoToTheLeastLoadedEngine()
    {
        await using var t = await TestServer.StartAsync(o => o with { CpuEngines = 2, MaxSequences = 2 });
        var schedulers = t.Server.Router.Schedulers;
        Assert.Equal(2, schedulers.Count);
        // Two long streams: the second goes to the other engine, since the first is loaded.
        using HttpResponseMessage a = await t.Http.SendAsync(Stream(300), HttpCompletionOption.ResponseHeadersRead, Ct);
        while (schedulers.Sum(s => s.BusySlots) < 1) await Task.Delay(5, Ct);
        using HttpResponseMessage b = await t.Http.SendAsync(Stream(300), HttpCompletionOption.ResponseHeadersRead, Ct);
        while (schedulers.Sum(s => s.BusySlots) < 2) await Task.Delay(5, Ct);
        Assert.Equal([1, 1], schedulers.Select(s => s.BusySlots));
        // Short requests all complete, spread over both engines.
        Task<(int, JsonElement?, HttpResponseMessage)>[] shorts = [.. Enumerable.Range(0, 8).Select(_ =>
            t.PostAsync("/v1/completions", """{"prompt":"ROMEO:","max_tokens":4}""", Ct))];
        foreach (var r in await Task.WhenAll(shorts)) Assert.Equal(200, r.Item1);
        Assert.All(schedulers, s => Assert.True(s.DecodeSteps > 0));
        a.Dispose();
        b.Dispose();
        await t.Server.Router.WaitIdleAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
    }
}
