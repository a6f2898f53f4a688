using System.Diagnostics;
using System.Text.Json;
using JetNative.Server.Tests.Support;
using Xunit;

namespace JetNative.Server.Tests;

/// <summary>
/// Prefix reuse on the real engine (demo model): a shared system prompt and different questions.
/// With snapshots the greedy answers are the same as without, fewer prompt tokens are prefilled,
/// and the figures (tokens saved, mean TTFT) are printed.
/// </summary>
public sealed class PrefixReuseTests
{
    private static readonly string System = string.Join(" ", Enumerable.Repeat(
        "You are a helpful assistant who answers in the style of Shakespeare, briefly and kindly.", 12));

    [Fact]
    public async Task ASharedSystemPromptIsPrefilledOnceAndGivesTheSameAnswers()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var plain = await RunAsync(prefixSlots: 0, ct);
        var reused = await RunAsync(prefixSlots: 2, ct);
        Assert.Equal(plain.Answers, reused.Answers);
        Assert.Equal(0, plain.Reused);
        Assert.True(reused.Reused > 0);
        Assert.Equal(plain.Prefilled, reused.Prefilled + reused.Reused);
        string figures = $"prefix reuse: {plain.Answers.Length} requests, system prompt shared; prefilled tokens {plain.Prefilled} -> {reused.Prefilled} " +
                         $"({reused.Reused} taken from snapshots, {100.0 * reused.Reused / plain.Prefilled:F0}% saved); " +
                         $"mean TTFT {plain.MeanTtftMs:F1} ms -> {reused.MeanTtftMs:F1} ms (requests 3..: {plain.LaterTtftMs:F1} -> {reused.LaterTtftMs:F1} ms)";
        Console.WriteLine(figures);
        TestContext.Current.TestOutputHelper?.WriteLine(figures);
    }

    private static async Task<(string[] Answers, long Prefilled, long Reused, double MeanTtftMs, double LaterTtftMs)> RunAsync(int prefixSlots, CancellationToken ct)
    {
        await using var t = await TestServer.StartAsync(o => o with { PrefixSlots = prefixSlots, Context = 1024, PrefillChunk = 128 });
        var answers = new List<string>();
        var ttft = new List<double>();
        for (int i = 0; i < 12; i++)
        {
            string body = JsonSerializer.Serialize(new
            {
                messages = new object[]
                {
                    new { role = "system", content = System },
                    new { role = "user", content = $"Question {i}: what is the hour, good sir?" },
                },
                max_tokens = 1,
                temperature = 0,
            });
            var clock = Stopwatch.StartNew();
            var (status, json, _) = await t.PostAsync("/v1/chat/completions", body, ct);
            ttft.Add(clock.Elapsed.TotalMilliseconds);  // max_tokens 1: the whole request is the time to the first token
            Assert.Equal(200, status);
            answers.Add(json!.Value.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!);
            // A second request per question continues the same prompt: its longer answer must match too.
            var (status2, json2, _) = await t.PostAsync("/v1/chat/completions", body.Replace("\"max_tokens\":1", "\"max_tokens\":12"), ct);
            Assert.Equal(200, status2);
            answers.Add(json2!.Value.GetProperty("choices")[0].GetProperty("message").GetProperty("content").GetString()!);
        }
        var s = t.Server.Router.Schedulers[0];
        return ([.. answers], s.PrefilledTokens, s.ReusedPrefixTokens, ttft.Average(), ttft.Skip(2).Average());
    }
}
