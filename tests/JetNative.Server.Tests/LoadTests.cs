using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using JetNative.Server.Tests.Support;
using Xunit;

namespace JetNative.Server.Tests;

/// <summary>
/// A bounded load test on loopback: 64 concurrent clients, 320 requests of every kind (streams,
/// whole completions, clients that leave mid-stream, malformed and oversized bodies, prompts
/// beyond the context, unknown models, bad keys). Every request must end with a completion or an
/// OpenAI-style error; afterwards no slot is taken and the server still answers. Prints the figures.
/// </summary>
public sealed class LoadTests
{
    private enum Kind { Stream, Whole, Disconnect, Malformed, Oversized, TooLong, UnknownModel, BadKey }

    [Fact]
    public async Task ConcurrentMixedTrafficEndsCleanlyWithoutSlotLeaks()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using var t = await TestServer.StartAsync(o => o with { MaxSequences = 8, MaxQueue = 512, Context = 256 });
        const int total = 320, concurrency = 64;
        Kind[] plan = [.. Enumerable.Range(0, total).Select(i => (i % 20) switch
        {
            < 9 => Kind.Stream, < 13 => Kind.Whole, < 15 => Kind.Disconnect, 15 => Kind.Malformed, 16 => Kind.Oversized,
            17 => Kind.TooLong, 18 => Kind.UnknownModel, _ => Kind.BadKey,
        })];
        var outcomes = new ConcurrentDictionary<string, int>();
        var ttft = new ConcurrentBag<double>();
        long completionTokens = 0;
        int next = -1;
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(ct);
        bounded.CancelAfter(TimeSpan.FromSeconds(120));
        var clock = Stopwatch.StartNew();

        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < total)
            {
                string outcome = await RunOne(t, plan[i], i, ttft, n => Interlocked.Add(ref completionTokens, n), bounded.Token);
                outcomes.AddOrUpdate(outcome, 1, (_, c) => c + 1);
            }
        }

        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(Worker, bounded.Token)));
        double seconds = clock.Elapsed.TotalSeconds;
        await t.Server.Router.WaitIdleAsync(ct).WaitAsync(TimeSpan.FromSeconds(20), ct);

        double[] sorted = [.. ttft.Order()];
        double P(double q) => sorted.Length == 0 ? double.NaN : sorted[Math.Min(sorted.Length - 1, (int)(q * sorted.Length))] * 1000;
        TestContext.Current.SendDiagnosticMessage("load: {0} requests in {1:F1} s, 64 concurrent; outcomes: {2}", total, seconds,
            string.Join(", ", outcomes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        string figures = $"load: {total} requests in {seconds:F1} s (64 concurrent, 8 slots, demo model on the CPU); " +
                         $"{completionTokens} completion tokens = {completionTokens / seconds:F0} tok/s; TTFT p50 {P(0.5):F0} ms, p99 {P(0.99):F0} ms (streams); " +
                         "outcomes: " + string.Join(", ", outcomes.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}"));
        Console.WriteLine(figures);
        TestContext.Current.TestOutputHelper?.WriteLine(figures);

        Assert.DoesNotContain(outcomes.Keys, k => k.StartsWith("UNEXPECTED", StringComparison.Ordinal));
        Assert.Equal(total, outcomes.Values.Sum());
        Assert.Equal(plan.Count(k => k is Kind.Stream or Kind.Whole), outcomes.GetValueOrDefault("completed"));
        Assert.All(t.Server.Router.Schedulers, s =>
        {
            Assert.Equal(0, s.BusySlots);
            Assert.Equal(0, s.QueueDepth);
            Assert.Null(s.Fault);
        });
        string metrics = await t.Http.GetStringAsync("/metrics", ct);
        Assert.Contains("jetnative_running_sequences{engine=\"0\"} 0", metrics, StringComparison.Ordinal);
        Assert.Contains("jetnative_free_slots{engine=\"0\"} 8", metrics, StringComparison.Ordinal);
        var (status, _, _) = await t.PostAsync("/v1/completions", """{"prompt":"ROMEO:","max_tokens":4}""", ct);
        Assert.Equal(200, status);
    }

    private static async Task<string> RunOne(TestServer t, Kind kind, int i, ConcurrentBag<double> ttft, Action<int> tokens, CancellationToken ct)
    {
        string prompt = JsonSerializer.Serialize($"ROMEO {i}: ");
        int maxTokens = 4 + i % 13;
        bool chat = i % 2 == 0;
        string path = chat ? "/v1/chat/completions" : "/v1/completions";
        string input = chat ? $$"""
            "messages":[{"role":"user","content":{{prompt}}}]
            """ : $"\"prompt\":{prompt}";
        string body = kind switch
        {
            Kind.Malformed => "{\"prompt\": \"ROMEO",
            Kind.Oversized => $$"""{"prompt":"{{new string('x', 300 * 1024)}}"}""",
            Kind.TooLong => $$"""{"prompt":{{JsonSerializer.Serialize(Enumerable.Repeat(300, 300).ToArray())}}}""",
            Kind.UnknownModel => $$"""{"model":"gpt-x",{{input}}}""",
            _ => "{" + input + $",\"max_tokens\":{maxTokens},\"temperature\":0.8,\"seed\":{i},\"stream\":{(kind == Kind.Whole ? "false" : "true")},\"stream_options\":{{\"include_usage\":true}}}}",
        };
        using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (kind == Kind.BadKey) request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", "wrong");
        var clock = Stopwatch.StartNew();
        using HttpResponseMessage response = await t.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct);
        int status = (int)response.StatusCode;
        int expected = kind switch
        {
            Kind.Malformed or Kind.TooLong => 400, Kind.Oversized => 413, Kind.UnknownModel => 404, Kind.BadKey => 401, _ => 200,
        };
        if (status != expected) return $"UNEXPECTED {kind} {status}: {await response.Content.ReadAsStringAsync(ct)}";
        if (status != 200)
        {
            string code = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement.GetProperty("error").GetProperty("code").GetString()!;
            return $"error {status} {code}";
        }
        if (kind == Kind.Whole)
        {
            JsonElement whole = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct)).RootElement;
            tokens(whole.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            return whole.GetProperty("choices")[0].GetProperty("finish_reason").GetString() is "stop" or "length" ? "completed" : "UNEXPECTED finish";
        }
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct));
        bool first = true;
        string? line;
        while ((line = await reader.ReadLineAsync(ct)) is not null)
        {
            if (!line.StartsWith("data: ", StringComparison.Ordinal)) continue;
            string data = line[6..];
            if (first)
            {
                ttft.Add(clock.Elapsed.TotalSeconds);
                first = false;
                if (kind == Kind.Disconnect) return "disconnected mid-stream";  // disposing the response closes the connection
            }
            if (data == "[DONE]") return "completed";
            JsonElement chunk = JsonDocument.Parse(data).RootElement;
            if (chunk.TryGetProperty("error", out _)) return $"UNEXPECTED stream error {data}";
            if (chunk.TryGetProperty("usage", out JsonElement usage) && usage.ValueKind == JsonValueKind.Object)
                tokens(usage.GetProperty("completion_tokens").GetInt32());
        }
        return "UNEXPECTED stream without [DONE]";
    }
}
