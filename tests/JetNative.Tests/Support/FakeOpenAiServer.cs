using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace JetNative.Tests.Support;

/// <summary>
/// A minimal OpenAI-style server on 127.0.0.1 (a free port) that stands in for <c>jetnative serve</c>
/// in the gateway, <c>bench serve</c> and chat-page tests: <c>GET /health</c> (switchable),
/// <c>GET /v1/models</c>, and streamed (SSE) or plain <c>POST /v1/completions</c> and
/// <c>/v1/chat/completions</c> that answer <c>max_tokens</c> tokens, one chunk each, with
/// <see cref="ChunkDelay"/> between chunks. <see cref="Gate"/> holds every stream after its first
/// chunk until the test releases it. It records what it received. Every loop is bounded.
/// </summary>
internal sealed class FakeOpenAiServer : IAsyncDisposable
{
    public const string ModelId = "fake-model";
    private const int MaxTokensLimit = 4096;
    private readonly WebApplication _app;
    private int _completions, _inFlight, _maxInFlight;

    private FakeOpenAiServer(WebApplication app, string name)
    {
        _app = app;
        Name = name;
    }

    /// <summary>The server's name; every answer's text starts with it (e.g. <c>a0 a1 ...</c>).</summary>
    public string Name { get; }

    public Uri Address { get; private set; } = null!;

    /// <summary>What <c>GET /health</c> answers: 200 when true, 503 when false.</summary>
    public volatile bool Healthy = true;

    /// <summary>The pause between two streamed chunks.</summary>
    public TimeSpan ChunkDelay { get; set; } = TimeSpan.FromMilliseconds(2);

    /// <summary>When set, every stream waits after its first chunk until this completes (at most 30 s).</summary>
    public TaskCompletionSource? Gate { get; set; }

    /// <summary>The words a chat answer streams, one per chunk, cycling to max_tokens (default: name + index).</summary>
    public string[]? ChatWords { get; set; }

    /// <summary>When set, completion/chat request number n (1-based) for which it returns true gets a 500 OpenAI error.</summary>
    public Func<int, bool>? FailRequest { get; set; }

    /// <summary>Completion and chat requests received.</summary>
    public int Completions => Volatile.Read(ref _completions);

    /// <summary>The most completion/chat requests that were in flight at once.</summary>
    public int MaxInFlight => Volatile.Read(ref _maxInFlight);

    /// <summary>The bodies of the completion/chat requests, in arrival order.</summary>
    public ConcurrentQueue<JsonObject> Bodies { get; } = new();

    /// <summary>The Authorization header of each completion/chat request ("" when absent).</summary>
    public ConcurrentQueue<string> Authorizations { get; } = new();

    /// <summary>Streams that ended because the client went away.</summary>
    public int Disconnects;

    public static async Task<FakeOpenAiServer> StartAsync(string name = "fake", Action<WebApplication>? map = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        WebApplication app = builder.Build();
        var server = new FakeOpenAiServer(app, name);
        app.MapGet("/health", () => server.Healthy
            ? Results.Json(new { status = "ok" })
            : Results.Json(new { status = "unhealthy" }, statusCode: StatusCodes.Status503ServiceUnavailable));
        app.MapGet("/v1/models", () => Results.Json(new
        {
            @object = "list",
            data = new[] { new { id = ModelId, @object = "model", created = 0, owned_by = "jetnative" } },
        }));
        app.MapPost("/v1/completions", context => server.CompleteAsync(context, chat: false));
        app.MapPost("/v1/chat/completions", context => server.CompleteAsync(context, chat: true));
        map?.Invoke(app);
        await app.StartAsync();
        server.Address = new Uri(app.Urls.First());
        return server;
    }

    private async Task CompleteAsync(HttpContext context, bool chat)
    {
        int number = Interlocked.Increment(ref _completions);
        int now = Interlocked.Increment(ref _inFlight);
        for (int seen = Volatile.Read(ref _maxInFlight); now > seen; seen = Volatile.Read(ref _maxInFlight))
            Interlocked.CompareExchange(ref _maxInFlight, now, seen);
        try
        {
            JsonObject? body = await JsonNode.ParseAsync(context.Request.Body) as JsonObject;
            if (body is null)
            {
                await Error(context, 400, "the body is not a JSON object");
                return;
            }
            Bodies.Enqueue(body);
            Authorizations.Enqueue(context.Request.Headers.Authorization.ToString());
            if (FailRequest?.Invoke(number) == true)
            {
                await Error(context, 500, $"request {number} failed on purpose");
                return;
            }
            int maxTokens = body["max_tokens"]?.GetValue<int>() ?? 16;
            if (maxTokens is < 1 or > MaxTokensLimit)
            {
                await Error(context, 400, $"max_tokens must be in 1..{MaxTokensLimit}");
                return;
            }
            int promptTokens = body["prompt"] is JsonArray ids ? ids.Count
                : chat ? body["messages"]!.AsArray().Sum(m => m!["content"]!.GetValue<string>().Split(' ').Length)
                : body["prompt"]!.GetValue<string>().Split(' ').Length;
            string[] pieces = Enumerable.Range(0, maxTokens)
                .Select(i => chat && ChatWords is { Length: > 0 } words ? words[i % words.Length] : $"{Name}{i} ").ToArray();
            string id = $"cmpl-{Guid.NewGuid():N}";
            object usage = new { prompt_tokens = promptTokens, completion_tokens = maxTokens, total_tokens = promptTokens + maxTokens };

            if (body["stream"]?.GetValue<bool>() != true)
            {
                string text = string.Concat(pieces);
                object choice = chat
                    ? new { index = 0, message = new { role = "assistant", content = text }, finish_reason = "length" }
                    : new { index = 0, text, finish_reason = "length" };
                await context.Response.WriteAsJsonAsync(new { id, @object = chat ? "chat.completion" : "text_completion", model = ModelId, choices = new[] { choice }, usage });
                return;
            }

            bool includeUsage = body["stream_options"]?["include_usage"]?.GetValue<bool>() == true;
            context.Response.ContentType = "text/event-stream";
            context.Response.Headers.CacheControl = "no-cache";
            CancellationToken aborted = context.RequestAborted;
            try
            {
                for (int i = 0; i < pieces.Length; i++)
                {
                    object choice = chat
                        ? new { index = 0, delta = new { content = pieces[i] }, finish_reason = i == pieces.Length - 1 ? "length" : null }
                        : new { index = 0, text = pieces[i], finish_reason = i == pieces.Length - 1 ? "length" : null };
                    await Event(context, new { id, @object = chat ? "chat.completion.chunk" : "text_completion", model = ModelId, choices = new[] { choice } });
                    if (i == 0 && Gate is TaskCompletionSource gate)
                        await gate.Task.WaitAsync(TimeSpan.FromSeconds(30), aborted);
                    else if (i < pieces.Length - 1)
                        await Task.Delay(ChunkDelay, aborted);
                }
                if (includeUsage)
                    await Event(context, new { id, @object = chat ? "chat.completion.chunk" : "text_completion", model = ModelId, choices = Array.Empty<object>(), usage });
                await context.Response.WriteAsync("data: [DONE]\n\n", aborted);
                await context.Response.Body.FlushAsync(aborted);
            }
            catch (OperationCanceledException) when (aborted.IsCancellationRequested)
            {
                Interlocked.Increment(ref Disconnects);
            }
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
        }
    }

    private static async Task Event(HttpContext context, object data)
    {
        await context.Response.WriteAsync($"data: {JsonSerializer.Serialize(data)}\n\n", context.RequestAborted);
        await context.Response.Body.FlushAsync(context.RequestAborted);
    }

    private static Task Error(HttpContext context, int status, string message)
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsJsonAsync(new { error = new { message, type = "invalid_request_error", param = (string?)null, code = (string?)null } });
    }

    public async ValueTask DisposeAsync()
    {
        Gate?.TrySetResult();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(stop.Token);
        await _app.DisposeAsync();
    }
}
