using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.ServerSentEvents;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace JetNative.Cli.Serving;

/// <summary>
/// Sends one streamed OpenAI completion (or chat completion) request and times every chunk as it
/// arrives: the SSE stream is read with <see cref="SseParser"/> straight off the socket, so the
/// timestamps are the client's view of TTFT and each inter-token gap. <c>stream_options.include_usage</c>
/// asks the server for the token counts in a last chunk.
/// </summary>
internal sealed class StreamingCompletionClient(HttpClient http, ServeBenchSettings settings, long origin)
{
    /// <summary>Seconds since the benchmark's origin (a <see cref="Stopwatch"/> timestamp).</summary>
    public double Now => Stopwatch.GetElapsedTime(origin).TotalSeconds;

    /// <summary>The JSON body of one request.</summary>
    public JsonObject Body(string model, int[]? promptIds)
    {
        var body = new JsonObject
        {
            ["model"] = model,
            ["max_tokens"] = settings.OutputLen,
            ["temperature"] = 0.0,
            ["stream"] = true,
            ["stream_options"] = new JsonObject { ["include_usage"] = true },
        };
        if (settings.IsChat)
            body["messages"] = new JsonArray(new JsonObject { ["role"] = "user", ["content"] = settings.PromptText });
        else
            body["prompt"] = promptIds is not null ? new JsonArray(promptIds.Select(id => (JsonNode)id).ToArray()) : settings.PromptText;
        if (settings.IgnoreEos) body["ignore_eos"] = true;
        return body;
    }

    /// <summary>Runs one request; failures (HTTP errors, an error event, no text, a timeout) come back in <see cref="RequestTiming.Error"/>.</summary>
    public async Task<RequestTiming> SendAsync(string model, int[]? promptIds, CancellationToken ct)
    {
        double sent = Now;
        var chunks = new List<double>();
        int promptTokens = promptIds?.Length ?? 0, outputTokens = -1;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(settings.Timeout);
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(settings.BaseUrl, settings.Endpoint))
            {
                Content = new StringContent(Body(model, promptIds).ToJsonString(), Encoding.UTF8, "application/json"),
            };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
            if (settings.ApiKey is not null) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", settings.ApiKey);
            sent = Now;
            using HttpResponseMessage response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (!response.IsSuccessStatusCode)
                return Failed(sent, await ErrorMessageAsync(response, timeout.Token));
            await using Stream stream = await response.Content.ReadAsStreamAsync(timeout.Token);
            await foreach (SseItem<string> item in SseParser.Create(stream).EnumerateAsync(timeout.Token))
            {
                double at = Now;
                if (item.Data == "[DONE]") break;
                JsonNode? chunk = JsonNode.Parse(item.Data);
                if (chunk?["error"] is JsonNode error)
                    return Failed(sent, $"error event: {error["message"]?.GetValue<string>() ?? error.ToJsonString()}");
                if (chunk?["usage"] is JsonObject usage)
                {
                    promptTokens = usage["prompt_tokens"]?.GetValue<int>() ?? promptTokens;
                    outputTokens = usage["completion_tokens"]?.GetValue<int>() ?? outputTokens;
                }
                if (!string.IsNullOrEmpty(ChunkText(chunk))) chunks.Add(at);
            }
            double finished = Now;
            if (chunks.Count == 0) return Failed(sent, "the stream carried no text");
            return new RequestTiming
            {
                Sent = sent,
                Chunks = chunks,
                Finished = finished,
                PromptTokens = promptTokens,
                OutputTokens = outputTokens >= 0 ? outputTokens : chunks.Count,
            };
        }
        catch (OperationCanceledException) when (!ct.IsCancellationRequested)
        {
            return Failed(sent, $"timed out after {settings.Timeout.TotalSeconds:0.#} s");
        }
        catch (Exception e) when (e is HttpRequestException or IOException or JsonException or FormatException or InvalidOperationException)
        {
            return Failed(sent, e.Message);
        }
    }

    private RequestTiming Failed(double sent, string error) => new() { Sent = sent, Finished = Now, Error = error };

    /// <summary>The text a chunk adds: <c>choices[0].text</c> (completions) or <c>choices[0].delta.content</c> (chat).</summary>
    private static string? ChunkText(JsonNode? chunk)
    {
        if (chunk?["choices"] is not JsonArray { Count: > 0 } choices) return null;
        JsonNode? first = choices[0];
        return (first?["text"] ?? first?["delta"]?["content"]) is JsonValue v && v.TryGetValue(out string? text) ? text : null;
    }

    /// <summary>The message of an OpenAI-shaped error body, else the status and the body's start.</summary>
    internal static async Task<string> ErrorMessageAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string body = await response.Content.ReadAsStringAsync(ct);
        string? message = null;
        try { message = JsonNode.Parse(body)?["error"]?["message"]?.GetValue<string>(); }
        catch (Exception e) when (e is JsonException or InvalidOperationException) { }
        message ??= body.Length > 200 ? body[..200] + "..." : body;
        return $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}{(message.Length > 0 ? ": " + message : "")}";
    }
}
