using System.Text.Json;
using System.Threading.Channels;
using JetNative.Server.Scheduling;
using JetNative.Tokenization;
using Microsoft.AspNetCore.Http;

namespace JetNative.Server.Api;

/// <summary>POST /v1/chat/completions and POST /v1/completions: parse, queue on the router, answer as JSON or SSE.</summary>
internal sealed class CompletionEndpoints(JetServer server)
{
    private JetTokenizer Tokenizer => server.Tokenizer;

    /// <summary>Handles one request (<paramref name="chat"/>: the chat endpoint).</summary>
    public async Task<IResult> HandleAsync(HttpContext http, bool chat)
    {
        if (server.IsDraining)
            throw Draining();
        CompletionParams p;
        using (JsonDocument doc = await ReadJsonAsync(http).ConfigureAwait(false))
        {
            p = chat
                ? CompletionParams.ParseChat(doc.RootElement, Tokenizer)
                : CompletionParams.ParseCompletion(doc.RootElement, Tokenizer, server.VocabSize);
        }
        if (p.Model is not null && !string.Equals(p.Model, server.ModelId, StringComparison.Ordinal))
            throw new ApiException(StatusCodes.Status404NotFound, $"The model '{p.Model}' does not exist (this server serves '{server.ModelId}')",
                "invalid_request_error", "model_not_found", "model");
        int context = server.Router.Context;
        if (p.Prompt.Length >= context)
            throw ApiException.BadRequest($"This model's maximum context length is {context} tokens. However, your prompt has {p.Prompt.Length} tokens.",
                chat ? "messages" : "prompt", "context_length_exceeded");
        if (p.N > server.Router.SlotsPerEngine)
            throw ApiException.BadRequest($"'n' must be at most {server.Router.SlotsPerEngine} (the server's --max-seqs), not {p.N}", "n");

        var limits = new GenerationLimits(p.MaxTokens ?? context, p.IgnoreEos ? [] : [.. Tokenizer.StopTokenIds], p.Stop);
        var timeout = server.Options.Timeout is { } t && t > TimeSpan.Zero ? new CancellationTokenSource(t) : new CancellationTokenSource();
        var linked = CancellationTokenSource.CreateLinkedTokenSource(http.RequestAborted, timeout.Token);
        var request = new GenerationRequest(p.Prompt, limits, p.Sampling, p.N, linked.Token);
        (EnqueueResult result, _) = server.Router.TryEnqueue(request);
        if (result != EnqueueResult.Accepted)
        {
            linked.Dispose();
            timeout.Dispose();
            throw result switch
            {
                EnqueueResult.QueueFull => new ApiException(StatusCodes.Status429TooManyRequests,
                    $"The server is busy: its queue is full ({server.Options.MaxQueue} requests waiting). Retry later.",
                    "rate_limit_error", "queue_full") { RetryAfterSeconds = 1 },
                EnqueueResult.TooManyChoices => ApiException.BadRequest($"'n' is larger than the server's slots", "n"),
                _ => Draining(),
            };
        }
        var responses = new CompletionResponses(chat, server.ModelId, Tokenizer);
        if (p.Stream)
            return TypedResults.ServerSentEvents(StreamAsync(request, p, responses, http, timeout, linked));
        try
        {
            return await CollectAsync(request, p, responses, http, timeout).ConfigureAwait(false);
        }
        finally
        {
            linked.Dispose();
            timeout.Dispose();
        }
    }

    private async Task<IResult> CollectAsync(GenerationRequest request, CompletionParams p, CompletionResponses responses,
        HttpContext http, CancellationTokenSource timeout)
    {
        var choices = new CompletionResponses.Choice[p.N];
        for (int i = 0; i < choices.Length; i++) choices[i] = new();
        try
        {
            await foreach (GenerationEvent e in request.Events.ReadAllAsync().ConfigureAwait(false))
            {
                CompletionResponses.Choice c = choices[e.Choice];
                switch (e)
                {
                    case TokenEvent t:
                        c.Text.Append(t.Text);
                        if (p.Logprobs) c.Logprobs.Add((t.Token, t.Logprob));
                        break;
                    case FinishEvent f:
                        c.Text.Append(f.Text);
                        c.FinishReason = f.Reason;
                        c.CompletionTokens = f.CompletionTokens;
                        break;
                }
            }
        }
        catch (Exception e)
        {
            if (http.RequestAborted.IsCancellationRequested) return Results.Empty;  // the client is gone
            throw Failure(e, timeout);
        }
        return Results.Content(responses.Complete(choices, p.Prompt.Length, p.Logprobs).ToJsonString(CompletionResponses.Json), "application/json");
    }

    private async IAsyncEnumerable<string> StreamAsync(GenerationRequest request, CompletionParams p, CompletionResponses responses,
        HttpContext http, CancellationTokenSource timeout, CancellationTokenSource linked)
    {
        try
        {
            bool chat = responses.Id.StartsWith("chatcmpl-", StringComparison.Ordinal);
            if (chat)
            {
                for (int i = 0; i < p.N; i++)
                    yield return responses.Chunk(i, "", null, null, role: true, p.IncludeUsage, 0);
            }
            var offsets = new int[p.N];
            int completionTokens = 0;
            while (true)
            {
                (GenerationEvent? e, ApiException? error) = await NextAsync(request.Events, timeout).ConfigureAwait(false);
                if (error is not null)
                {
                    yield return error.ToJson().ToJsonString(CompletionResponses.Json);
                    yield break;
                }
                if (e is null) break;
                switch (e)
                {
                    case TokenEvent t when t.Text.Length > 0 || p.Logprobs:
                        yield return responses.Chunk(t.Choice, t.Text, p.Logprobs ? (t.Token, t.Logprob) : null, null, false, p.IncludeUsage, offsets[t.Choice]);
                        offsets[t.Choice] += t.Text.Length;
                        break;
                    case FinishEvent f:
                        completionTokens += f.CompletionTokens;
                        if (f.Text.Length > 0)
                            yield return responses.Chunk(f.Choice, f.Text, null, null, false, p.IncludeUsage, offsets[f.Choice]);
                        yield return responses.Chunk(f.Choice, chat ? null : "", null, f.Reason, false, p.IncludeUsage, offsets[f.Choice]);
                        break;
                }
            }
            if (p.IncludeUsage)
                yield return responses.UsageChunk(p.Prompt.Length, completionTokens);
            yield return "[DONE]";
        }
        finally
        {
            linked.Dispose();
            timeout.Dispose();
        }

        async Task<(GenerationEvent?, ApiException?)> NextAsync(ChannelReader<GenerationEvent> reader, CancellationTokenSource t)
        {
            try
            {
                while (await reader.WaitToReadAsync().ConfigureAwait(false))
                {
                    if (reader.TryRead(out GenerationEvent? e)) return (e, null);
                }
                return (null, null);
            }
            catch (Exception ex)
            {
                return (null, Failure(ex, t));
            }
        }
    }

    /// <summary>The OpenAI error for a request the scheduler ended with <paramref name="e"/>.</summary>
    private static ApiException Failure(Exception e, CancellationTokenSource timeout)
    {
        if (e is ChannelClosedException { InnerException: { } inner }) e = inner;
        return e switch
        {
            OperationCanceledException when timeout.IsCancellationRequested => new ApiException(StatusCodes.Status408RequestTimeout,
                "The request took longer than the server's --timeout", "timeout_error", "request_timeout"),
            OperationCanceledException => new ApiException(499, "The request was cancelled", "invalid_request_error", "cancelled"),
            ObjectDisposedException => Draining(),
            _ => new ApiException(StatusCodes.Status500InternalServerError, $"The engine failed: {e.Message}", "server_error", "engine_error"),
        };
    }

    private static ApiException Draining() =>
        new(StatusCodes.Status503ServiceUnavailable, "The server is shutting down and takes no new requests", "server_error", "server_draining")
        { RetryAfterSeconds = 5 };

    private static async Task<JsonDocument> ReadJsonAsync(HttpContext http)
    {
        try
        {
            return await JsonDocument.ParseAsync(http.Request.Body, cancellationToken: http.RequestAborted).ConfigureAwait(false);
        }
        catch (JsonException e)
        {
            throw ApiException.BadRequest($"The request body is not valid JSON: {e.Message}", code: "invalid_json");
        }
        catch (BadHttpRequestException e) when (e.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            throw new ApiException(StatusCodes.Status413PayloadTooLarge,
                $"The request body is larger than the server's limit ({http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>()?.MaxRequestBodySize} bytes)",
                "invalid_request_error", "request_too_large");
        }
    }
}
