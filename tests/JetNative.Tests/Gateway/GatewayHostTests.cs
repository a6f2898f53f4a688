using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Sockets;
using System.Text;
using System.Text.Json.Nodes;
using JetNative.Gateway;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Gateway;

/// <summary>
/// The gateway in front of two fake replicas on loopback: least-requests balancing under load,
/// health checks taking a replica out and putting it back, SSE passed through unbuffered, and
/// OpenAI-shaped 503 / 502 / 401 errors.
/// </summary>
public sealed class GatewayHostTests : IAsyncLifetime
{
    private FakeOpenAiServer _a = null!, _b = null!;
    private readonly HttpClient _http = new() { Timeout = TimeSpan.FromSeconds(60) };

    public async ValueTask InitializeAsync()
    {
        _a = await FakeOpenAiServer.StartAsync("a");
        _b = await FakeOpenAiServer.StartAsync("b");
    }

    public async ValueTask DisposeAsync()
    {
        _http.Dispose();
        await _a.DisposeAsync();
        await _b.DisposeAsync();
    }

    private static async Task<GatewayHost> StartGatewayAsync(GatewayOptions options)
    {
        GatewayHost gateway = GatewayHost.Create(options with { Port = 0 }, logging => { });
        await gateway.StartAsync(TestContext.Current.CancellationToken);
        return gateway;
    }

    private GatewayOptions TwoReplicas(double healthSeconds = 0.1) => new()
    {
        Replicas = [_a.Address, _b.Address],
        HealthInterval = TimeSpan.FromSeconds(healthSeconds),
        HealthTimeout = TimeSpan.FromSeconds(2),
        HealthFailureThreshold = 1,
    };

    private static StringContent CompletionBody(int maxTokens, bool stream = true) => new(
        $$"""{"model":"fake-model","prompt":"hello there","max_tokens":{{maxTokens}},"stream":{{(stream ? "true" : "false")}}}""",
        Encoding.UTF8, "application/json");

    private async Task<string> CompleteAsync(Uri gateway, int maxTokens = 4)
    {
        using HttpResponseMessage response = await _http.PostAsync(new Uri(gateway, "/v1/completions"), CompletionBody(maxTokens), TestContext.Current.CancellationToken);
        string text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"HTTP {(int)response.StatusCode}: {text}");
        Assert.EndsWith("data: [DONE]\n\n", text, StringComparison.Ordinal);
        return text;
    }

    [Fact]
    public async Task Concurrent_streams_are_spread_over_both_replicas()
    {
        _a.ChunkDelay = _b.ChunkDelay = TimeSpan.FromMilliseconds(20);
        await using GatewayHost gateway = await StartGatewayAsync(TwoReplicas(healthSeconds: 5));

        string[] answers = await Task.WhenAll(Enumerable.Range(0, 16).Select(_ => CompleteAsync(gateway.Address, maxTokens: 10)));

        Assert.Equal(16, _a.Completions + _b.Completions);
        Assert.True(_a.Completions >= 4 && _b.Completions >= 4, $"least requests should spread 16 concurrent streams: a got {_a.Completions}, b got {_b.Completions}");
        Assert.Equal(_a.Completions, answers.Count(t => t.Contains("\"a0 \"", StringComparison.Ordinal)));
        Assert.All(gateway.Replicas, r => Assert.Equal(0, r.ActiveRequests));
    }

    [Fact]
    public async Task A_replica_that_fails_its_health_check_gets_no_traffic_until_it_recovers()
    {
        await using GatewayHost gateway = await StartGatewayAsync(TwoReplicas());
        await Poll.UntilAsync(() => gateway.Replicas.All(r => r.Health == "Healthy"), "both replicas are probed healthy");

        // a is replica1, the one least requests picks on a tie (sequential requests): take it out.
        _a.Healthy = false;
        await Poll.UntilAsync(() => gateway.Replicas.Single(r => r.Id == "replica1") is { Available: false, Health: "Unhealthy" },
            "replica a is taken out");
        int aBefore = _a.Completions;
        for (int i = 0; i < 8; i++)
            Assert.Contains("\"b0 \"", await CompleteAsync(gateway.Address), StringComparison.Ordinal);
        Assert.Equal(aBefore, _a.Completions);
        Assert.Equal(8, _b.Completions);

        _a.Healthy = true;
        await Poll.UntilAsync(() => gateway.Replicas.All(r => r.Available), "replica a is put back");
        _a.ChunkDelay = _b.ChunkDelay = TimeSpan.FromMilliseconds(20);
        await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => CompleteAsync(gateway.Address, maxTokens: 10)));
        Assert.True(_a.Completions > aBefore, $"replica a got no traffic after it recovered (b got {_b.Completions - 8} of 8)");
    }

    [Fact]
    public async Task Server_sent_events_pass_through_before_the_replica_finishes()
    {
        await using GatewayHost gateway = await StartGatewayAsync(TwoReplicas(healthSeconds: 5) with { Replicas = [_a.Address] });
        _a.Gate = new TaskCompletionSource();
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.Address, "/v1/completions")) { Content = CompletionBody(5) };
        using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken));

        // The replica has sent one chunk and waits on the gate: that chunk must already be here.
        using var firstChunk = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        string? first = await reader.ReadLineAsync(firstChunk.Token);
        Assert.NotNull(first);
        Assert.StartsWith("data: ", first);
        Assert.Equal("a0 ", JsonNode.Parse(first["data: ".Length..])!["choices"]![0]!["text"]!.GetValue<string>());
        Assert.False(_a.Gate.Task.IsCompleted);

        _a.Gate.TrySetResult();
        string rest = await reader.ReadToEndAsync(TestContext.Current.CancellationToken);
        Assert.Contains("\"a4 \"", rest, StringComparison.Ordinal);
        Assert.EndsWith("data: [DONE]\n\n", rest, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_client_that_goes_away_is_seen_by_the_replica()
    {
        await using GatewayHost gateway = await StartGatewayAsync(TwoReplicas(healthSeconds: 5) with { Replicas = [_a.Address] });
        _a.Gate = new TaskCompletionSource();
        using (var request = new HttpRequestMessage(HttpMethod.Post, new Uri(gateway.Address, "/v1/completions")) { Content = CompletionBody(5) })
        using (HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, TestContext.Current.CancellationToken))
        {
            using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(TestContext.Current.CancellationToken));
            Assert.StartsWith("data: ", await reader.ReadLineAsync(TestContext.Current.CancellationToken));
        } // disposing the response mid-stream closes the client's connection
        await Poll.UntilAsync(() => Volatile.Read(ref _a.Disconnects) == 1, "the replica's stream is cancelled");
        await Poll.UntilAsync(() => gateway.Replicas.Single().ActiveRequests == 0, "the gateway has no request in flight");
    }

    [Fact]
    public async Task No_healthy_replica_gives_503_with_an_openai_error()
    {
        _a.Healthy = _b.Healthy = false;
        await using GatewayHost gateway = await StartGatewayAsync(TwoReplicas());
        await Poll.UntilAsync(() => gateway.Replicas.All(r => !r.Available),
            "both replicas are taken out", state: () => string.Join("; ", gateway.Replicas));

        using HttpResponseMessage response = await _http.PostAsync(new Uri(gateway.Address, "/v1/completions"), CompletionBody(4), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        JsonNode error = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["error"]!;
        Assert.Equal("no_healthy_replica", error["code"]!.GetValue<string>());
        Assert.Contains("no healthy replica", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(0, _a.Completions + _b.Completions);

        using HttpResponseMessage health = await _http.GetAsync(new Uri(gateway.Address, "/health"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        JsonNode report = JsonNode.Parse(await health.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!;
        Assert.Equal("unavailable", report["status"]!.GetValue<string>());
        Assert.Equal(2, report["replicas"]!.AsArray().Count);
    }

    [Fact]
    public async Task A_replica_that_refuses_the_connection_gives_502_with_an_openai_error()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int deadPort = ((IPEndPoint)listener.LocalEndpoint).Port;
        listener.Stop();
        // One hour between probes and two failures to take it out: the dead replica stays in.
        var options = TwoReplicas(healthSeconds: 3600) with { Replicas = [new Uri($"http://127.0.0.1:{deadPort}")], HealthFailureThreshold = 2 };
        await using GatewayHost gateway = await StartGatewayAsync(options);

        using HttpResponseMessage response = await _http.PostAsync(new Uri(gateway.Address, "/v1/completions"), CompletionBody(4), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadGateway, response.StatusCode);
        JsonNode error = JsonNode.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["error"]!;
        Assert.Equal("bad_gateway", error["code"]!.GetValue<string>());
        Assert.Contains($"127.0.0.1:{deadPort}", error["message"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_api_key_is_required_on_v1_and_passed_on()
    {
        await using GatewayHost gateway = await StartGatewayAsync(TwoReplicas(healthSeconds: 5) with { ApiKey = "sesame" });
        var url = new Uri(gateway.Address, "/v1/completions");

        using (HttpResponseMessage missing = await _http.PostAsync(url, CompletionBody(2), TestContext.Current.CancellationToken))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, missing.StatusCode);
            JsonNode error = JsonNode.Parse(await missing.Content.ReadAsStringAsync(TestContext.Current.CancellationToken))!["error"]!;
            Assert.Equal("invalid_api_key", error["code"]!.GetValue<string>());
        }
        using (var wrong = new HttpRequestMessage(HttpMethod.Post, url) { Content = CompletionBody(2) })
        {
            wrong.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sesamx");
            using HttpResponseMessage response = await _http.SendAsync(wrong, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }
        using (var right = new HttpRequestMessage(HttpMethod.Post, url) { Content = CompletionBody(2) })
        {
            right.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "sesame");
            using HttpResponseMessage response = await _http.SendAsync(right, TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(1, _a.Completions + _b.Completions);
        Assert.Contains("Bearer sesame", _a.Authorizations.Concat(_b.Authorizations));
        using HttpResponseMessage health = await _http.GetAsync(new Uri(gateway.Address, "/health"), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    [Fact]
    public async Task The_deploy_config_file_routes_to_its_replicas()
    {
        string committed = Path.Combine(TestModels.RepoRoot, "deploy", "gateway.json");
        JsonNode config = JsonNode.Parse(await File.ReadAllTextAsync(committed, TestContext.Current.CancellationToken))!;
        JsonObject destinations = config["ReverseProxy"]!["Clusters"]!["replicas"]!["Destinations"]!.AsObject();
        Assert.Equal(2, destinations.Count);
        destinations[destinations.ElementAt(0).Key]!["Address"] = _a.Address.AbsoluteUri;
        destinations[destinations.ElementAt(1).Key]!["Address"] = _b.Address.AbsoluteUri;
        string path = Path.Combine(Path.GetTempPath(), $"jet-gateway-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, config.ToJsonString(), TestContext.Current.CancellationToken);
        try
        {
            await using GatewayHost gateway = await StartGatewayAsync(new GatewayOptions { ConfigFile = path });
            await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => CompleteAsync(gateway.Address)));
            Assert.Equal(4, _a.Completions + _b.Completions);
            Assert.Equal(2, gateway.Replicas.Count);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Bad_options_are_refused_with_a_clear_message()
    {
        Assert.Contains("no replica", Assert.Throws<ArgumentException>(() => GatewayHost.Create(new GatewayOptions())).Message, StringComparison.Ordinal);
        Assert.Contains("http://", Assert.Throws<ArgumentException>(() => GatewayHost.Create(new GatewayOptions { Replicas = [new Uri("ftp://x")] })).Message, StringComparison.Ordinal);
        Assert.Contains("twice", Assert.Throws<ArgumentException>(() => GatewayHost.Create(new GatewayOptions { Replicas = [_a.Address, _a.Address] })).Message, StringComparison.Ordinal);
        Assert.Contains("port", Assert.Throws<ArgumentException>(() => GatewayHost.Create(new GatewayOptions { Replicas = [_a.Address], Port = 70000 })).Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => GatewayHost.Create(new GatewayOptions { ConfigFile = "/nonexistent/gateway.json" }));
    }
}
