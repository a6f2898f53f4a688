using System.Diagnostics;
using System.Text.Json.Nodes;

namespace JetNative.Cli.Serving;

/// <summary>The outcome of a <c>bench serve</c> run.</summary>
internal sealed record ServeBenchResult(ServeBenchSettings Settings, string Model, ServeMetrics Metrics, IReadOnlyList<RequestTiming> Requests);

/// <summary>
/// Runs a <c>bench serve</c> workload against an OpenAI-compatible server, as <c>vllm bench serve</c>
/// does: one untimed test request (a wrong address, model or key fails here with the server's
/// message), then <see cref="ServeBenchSettings.NumPrompts"/> streamed requests sent at their
/// Poisson arrival times, at most <see cref="ServeBenchSettings.MaxConcurrency"/> in flight.
/// </summary>
internal static class ServeBenchmark
{
    public static async Task<ServeBenchResult> RunAsync(ServeBenchSettings settings, HttpClient http, IProgress<float>? progress, CancellationToken ct)
    {
        settings.Validate();
        string model = settings.Model ?? await FirstModelAsync(http, settings, ct);
        ServeWorkload workload = ServeWorkload.Create(settings);
        var client = new StreamingCompletionClient(http, settings, Stopwatch.GetTimestamp());

        RequestTiming test = await client.SendAsync(model, workload.PromptIds[0], ct);
        ct.ThrowIfCancellationRequested();
        if (!test.Success)
            throw new InvalidOperationException($"the test request to {new Uri(settings.BaseUrl, settings.Endpoint)} failed: {test.Error}");

        using SemaphoreSlim? gate = settings.MaxConcurrency is int limit ? new SemaphoreSlim(limit) : null;
        int done = 0;
        async Task<RequestTiming> One(int i)
        {
            if (gate is not null) await gate.WaitAsync(ct);
            try { return await client.SendAsync(model, workload.PromptIds[i], ct); }
            finally
            {
                gate?.Release();
                progress?.Report(Interlocked.Increment(ref done) / (float)settings.NumPrompts);
            }
        }

        double start = client.Now;
        var tasks = new Task<RequestTiming>[settings.NumPrompts];
        for (int i = 0; i < tasks.Length; i++)
        {
            double wait = start + workload.ArrivalsS[i] - client.Now;
            if (wait > 0) await Task.Delay(TimeSpan.FromSeconds(wait), ct);
            tasks[i] = One(i);
        }
        RequestTiming[] results = await Task.WhenAll(tasks);
        double duration = client.Now - start;
        ct.ThrowIfCancellationRequested();
        return new ServeBenchResult(settings, model, ServeMetrics.Compute(results, duration, settings.Slo), results);
    }

    /// <summary>The first model <c>GET /v1/models</c> lists.</summary>
    private static async Task<string> FirstModelAsync(HttpClient http, ServeBenchSettings settings, CancellationToken ct)
    {
        var url = new Uri(settings.BaseUrl, "/v1/models");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        if (settings.ApiKey is not null) request.Headers.Authorization = new("Bearer", settings.ApiKey);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(settings.Timeout);
        HttpResponseMessage response;
        try { response = await http.SendAsync(request, timeout.Token); }
        catch (HttpRequestException e) { throw new IOException($"GET {url} failed: {e.Message}", e); }
        catch (OperationCanceledException e) when (!ct.IsCancellationRequested)
        {
            throw new IOException($"GET {url} timed out after {settings.Timeout.TotalSeconds:0.#} s", e);
        }
        using (response)
        {
            if (!response.IsSuccessStatusCode)
                throw new IOException($"GET {url} failed: {await StreamingCompletionClient.ErrorMessageAsync(response, ct)} (give the model name with --model)");
            JsonNode? list = JsonNode.Parse(await response.Content.ReadAsStringAsync(ct));
            return list?["data"] is JsonArray { Count: > 0 } data && data[0]?["id"]?.GetValue<string>() is string id
                ? id
                : throw new InvalidDataException($"GET {url} lists no model (give the model name with --model)");
        }
    }
}
