using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using JetNative.Server.Tests.Support;
using Xunit;

namespace JetNative.Server.Tests.Api;

/// <summary>Bad requests get OpenAI-shaped errors with the right status; the server's other routes.</summary>
public sealed class ErrorTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private TestServer T => fixture.Test;

    private static void AssertError(int expectedStatus, string? code, (int Status, JsonElement? Body, HttpResponseMessage _) r, string? param = null)
    {
        Assert.Equal(expectedStatus, r.Status);
        JsonElement error = r.Body!.Value.GetProperty("error");
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
        Assert.False(string.IsNullOrEmpty(error.GetProperty("type").GetString()));
        if (code is not null) Assert.Equal(code, error.GetProperty("code").GetString());
        if (param is not null) Assert.Equal(param, error.GetProperty("param").GetString());
    }

    [Fact]
    public async Task MalformedAndWronglyTypedBodiesAre400()
    {
        AssertError(400, "invalid_json", await T.PostAsync("/v1/chat/completions", "{\"messages\": [", Ct));
        AssertError(400, null, await T.PostAsync("/v1/chat/completions", "[1,2]", Ct));
        AssertError(400, null, await T.PostAsync("/v1/chat/completions", """{"messages":"hi"}""", Ct), "messages");
        AssertError(400, null, await T.PostAsync("/v1/chat/completions", """{"messages":[{"role":"pirate","content":"x"}]}""", Ct), "messages");
        AssertError(400, null, await T.PostAsync("/v1/completions", """{"prompt":"x","n":"two"}""", Ct), "n");
        AssertError(400, null, await T.PostAsync("/v1/completions", """{"prompt":"x","temperature":3}""", Ct), "temperature");
        AssertError(400, null, await T.PostAsync("/v1/completions", """{"prompt":"x","max_tokens":0}""", Ct), "max_tokens");
        AssertError(400, null, await T.PostAsync("/v1/completions", """{"prompt":"x","stop":[1]}""", Ct), "stop");
        AssertError(400, null, await T.PostAsync("/v1/completions", """{"prompt":[1,99999]}""", Ct), "prompt");
        AssertError(400, null, await T.PostAsync("/v1/completions", """{"prompt":""}""", Ct), "prompt");
        AssertError(400, null, await T.PostAsync("/v1/completions", """{"prompt":"x","n":5}""", Ct), "n");
    }

    [Fact]
    public async Task APromptBeyondTheContextIs400()
    {
        string ids = JsonSerializer.Serialize(Enumerable.Repeat(300, 600).ToArray());
        AssertError(400, "context_length_exceeded", await T.PostAsync("/v1/completions", $$"""{"prompt":{{ids}}}""", Ct), "prompt");
    }

    [Fact]
    public async Task AnOversizedBodyIs413()
    {
        string big = $$"""{"prompt":"{{new string('a', 300 * 1024)}}"}""";
        AssertError(413, "request_too_large", await T.PostAsync("/v1/completions", big, Ct));
    }

    [Fact]
    public async Task UnknownModelsAndRoutesAre404AndAMissingKeyIs401()
    {
        AssertError(404, "model_not_found", await T.PostAsync("/v1/completions", """{"model":"nope","prompt":"x"}""", Ct), "model");
        AssertError(404, "not_found", await T.PostAsync("/v1/nothing", "{}", Ct));
        using var anonymous = new HttpClient { BaseAddress = T.Server.BaseAddress };
        HttpResponseMessage r = await anonymous.PostAsync("/v1/completions", new StringContent("""{"prompt":"x"}""", Encoding.UTF8, "application/json"), Ct);
        Assert.Equal(401, (int)r.StatusCode);
        Assert.Equal("invalid_api_key", JsonDocument.Parse(await r.Content.ReadAsStringAsync(Ct)).RootElement.GetProperty("error").GetProperty("code").GetString());
    }

    [Fact]
    public async Task HealthModelsAndMetricsAnswer()
    {
        using var anonymous = new HttpClient { BaseAddress = T.Server.BaseAddress };
        JsonElement health = JsonDocument.Parse(await anonymous.GetStringAsync("/health", Ct)).RootElement;
        Assert.Equal("ok", health.GetProperty("status").GetString());
        Assert.Equal(4, health.GetProperty("engines")[0].GetProperty("slots").GetInt32());
        JsonElement models = JsonDocument.Parse(await T.Http.GetStringAsync("/v1/models", Ct)).RootElement;
        Assert.Equal(T.Server.ModelId, models.GetProperty("data")[0].GetProperty("id").GetString());
        await T.PostAsync("/v1/completions", """{"prompt":"ROMEO:","max_tokens":3}""", Ct);
        string metrics = await anonymous.GetStringAsync("/metrics", Ct);
        foreach (string name in new[] { "jetnative_queue_depth", "jetnative_running_sequences", "jetnative_generated_tokens_total",
                     "jetnative_tokens_per_second", "jetnative_time_to_first_token_seconds_bucket", "jetnative_inter_token_latency_seconds_bucket",
                     "jetnative_requests_total{status=\"200\"}" })
            Assert.Contains(name, metrics, StringComparison.Ordinal);
    }
}
