using System.ClientModel;
using System.Text;
using System.Text.Json;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiChatRole = Microsoft.Extensions.AI.ChatRole;
using ChatFinishReason = OpenAI.Chat.ChatFinishReason;
using JetNative.Server.Tests.Support;
using JetNative.Tokenization;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using OpenAI;
using Xunit;

namespace JetNative.Server.Tests.Api;

/// <summary>A shared server for the client tests.</summary>
public sealed class ServerFixture : IAsyncLifetime
{
    internal TestServer Test { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Test = await TestServer.StartAsync();

    public async ValueTask DisposeAsync() => await Test.DisposeAsync();
}

/// <summary>
/// Real clients against a real Kestrel server with the demo model: the official OpenAI .NET SDK and
/// Microsoft.Extensions.AI's IChatClient over it; raw HTTP for /v1/completions (the SDK has no public client for it).
/// </summary>
public sealed class OpenAiClientTests(ServerFixture fixture) : IClassFixture<ServerFixture>
{
    private const string Prompt = "ROMEO:";
    private static CancellationToken Ct => TestContext.Current.CancellationToken;
    private TestServer T => fixture.Test;

    private ChatClient Chat(string key = TestServer.Key) =>
        new OpenAIClient(new ApiKeyCredential(key), new OpenAIClientOptions { Endpoint = new Uri(T.BaseUrl + "/v1") })
            .GetChatClient(T.Server.ModelId);

    private static JetTokenizer Tok => ServerTestModels.Tokenizer;

    private static int ChatPromptTokens(string user) =>
        Tok.Encode(Tok.ApplyChatTemplate([("user", user)], addGenerationPrompt: true)).Count;

    /// <summary>JetSession's own greedy generation of <paramref name="prompt"/>: (text without stop tokens, token count).</summary>
    private static (string Text, int Tokens) Greedy(int[] prompt, int maxTokens)
    {
        using JetSession session = ServerTestModels.Demo.CreateSession(new JetSessionOptions { Context = 512 });
        int[] ids = session.GenerateTokens(prompt, new JetGenerationOptions { Sampling = JetSamplingOptions.Greedy, MaxTokens = maxTokens });
        return (Tok.Decode(ids.Where(id => !Tok.StopTokenIds.Contains(id)), skipSpecial: true), ids.Length);
    }

    [Fact]
    public async Task ChatCompletionAtTemperatureZeroIsJetSessionsGreedyTextWithTheTokenizersUsage()
    {
        ChatCompletion c = await Chat().CompleteChatAsync([new UserChatMessage(Prompt)],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 24 }, Ct);
        int[] prompt = [.. Tok.Encode(Tok.ApplyChatTemplate([("user", Prompt)], addGenerationPrompt: true))];
        (string text, int tokens) = Greedy(prompt, 24);
        Assert.Equal(text, c.Content[0].Text);
        Assert.Equal(ChatPromptTokens(Prompt), c.Usage.InputTokenCount);
        Assert.Equal(tokens, c.Usage.OutputTokenCount);
        Assert.Equal(c.Usage.InputTokenCount + c.Usage.OutputTokenCount, c.Usage.TotalTokenCount);
        Assert.Equal(tokens == 24 ? ChatFinishReason.Length : ChatFinishReason.Stop, c.FinishReason);
        Assert.Equal(T.Server.ModelId, c.Model);
    }

    [Fact]
    public async Task StreamingChatGivesTheSameTextAndTheUsage()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 20 };
        ChatCompletion whole = await Chat().CompleteChatAsync([new UserChatMessage(Prompt)], options, Ct);
        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        int updates = 0;
        await foreach (StreamingChatCompletionUpdate u in Chat().CompleteChatStreamingAsync([new UserChatMessage(Prompt)],
                           new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 20 }, Ct))
        {
            updates++;
            foreach (ChatMessageContentPart part in u.ContentUpdate) text.Append(part.Text);
            usage ??= u.Usage;
            finish ??= u.FinishReason;
        }
        Assert.True(updates > 2, $"{updates} updates");
        Assert.Equal(whole.Content[0].Text, text.ToString());
        Assert.NotNull(usage);
        Assert.Equal(whole.Usage.OutputTokenCount, usage.OutputTokenCount);
        Assert.Equal(whole.Usage.InputTokenCount, usage.InputTokenCount);
        Assert.Equal(whole.FinishReason, finish);
    }

    [Fact]
    public async Task AStopSequenceCutsTheTextBeforeIt()
    {
        ChatCompletion full = await Chat().CompleteChatAsync([new UserChatMessage(Prompt)],
            new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 }, Ct);
        string text = full.Content[0].Text;
        Assert.True(text.Length >= 12, $"greedy text too short for the test: '{text}'");
        string stop = text.Substring(8, 3);
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 40 };
        options.StopSequences.Add(stop);
        ChatCompletion cut = await Chat().CompleteChatAsync([new UserChatMessage(Prompt)], options, Ct);
        Assert.Equal(text[..text.IndexOf(stop, StringComparison.Ordinal)], cut.Content[0].Text);
        Assert.Equal(ChatFinishReason.Stop, cut.FinishReason);
    }

    [Fact]
    public async Task TheSameSeedGivesTheSameText()
    {
        async Task<string> Run(long seed) => (await Chat().CompleteChatAsync([new UserChatMessage(Prompt)],
            new ChatCompletionOptions { Temperature = 1.0f, MaxOutputTokenCount = 24, Seed = seed }, Ct)).Value.Content[0].Text;

        string a = await Run(7);
        Assert.Equal(a, await Run(7));
        string[] others = [await Run(8), await Run(9), await Run(10)];
        Assert.Contains(others, o => o != a);  // a seed is not ignored
    }

    [Fact]
    public async Task LogprobsAreTheChosenTokensOnly()
    {
        var options = new ChatCompletionOptions { Temperature = 0, MaxOutputTokenCount = 8, IncludeLogProbabilities = true };
        ChatCompletion c = await Chat().CompleteChatAsync([new UserChatMessage(Prompt)], options, Ct);
        Assert.Equal(c.Usage.OutputTokenCount, c.ContentTokenLogProbabilities.Count);
        Assert.All(c.ContentTokenLogProbabilities, lp =>
        {
            Assert.True(lp.LogProbability <= 0);
            Assert.Empty(lp.TopLogProbabilities);
        });
    }

    [Fact]
    public async Task MicrosoftExtensionsAiChatClientWorks()
    {
        IChatClient client = Chat().AsIChatClient();
        ChatResponse r = await client.GetResponseAsync([new AiChatMessage(AiChatRole.User, Prompt)],
            new ChatOptions { Temperature = 0, MaxOutputTokens = 16 }, Ct);
        Assert.False(string.IsNullOrEmpty(r.Text));
        Assert.Equal(ChatPromptTokens(Prompt), r.Usage?.InputTokenCount);
        var streamed = new StringBuilder();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync([new AiChatMessage(AiChatRole.User, Prompt)],
                           new ChatOptions { Temperature = 0, MaxOutputTokens = 16 }, Ct))
            streamed.Append(u.Text);
        Assert.Equal(r.Text, streamed.ToString());
    }

    [Fact]
    public async Task ABadApiKeyIsRefusedWith401()
    {
        var e = await Assert.ThrowsAsync<ClientResultException>(() =>
            Chat("wrong").CompleteChatAsync([new UserChatMessage(Prompt)], new ChatCompletionOptions { MaxOutputTokenCount = 4 }, Ct));
        Assert.Equal(401, e.Status);
        Assert.Contains("invalid_api_key", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnUnknownModelIs404()
    {
        var client = new OpenAIClient(new ApiKeyCredential(TestServer.Key), new OpenAIClientOptions { Endpoint = new Uri(T.BaseUrl + "/v1") });
        var e = await Assert.ThrowsAsync<ClientResultException>(() =>
            client.GetChatClient("gpt-9").CompleteChatAsync([new UserChatMessage(Prompt)], cancellationToken: Ct));
        Assert.Equal(404, e.Status);
        Assert.Contains("model_not_found", e.Message, StringComparison.Ordinal);
        var models = await client.GetOpenAIModelClient().GetModelsAsync(Ct);
        Assert.Equal([T.Server.ModelId], models.Value.Select(m => m.Id));
    }

    [Fact]
    public async Task CompletionWithTextOrTokenIdsIsGreedyTextWithUsage()
    {
        int[] ids = [.. Tok.Encode(Prompt)];
        (string text, int tokens) = Greedy(ids, 16);
        foreach (string prompt in new[] { JsonSerializer.Serialize(Prompt), JsonSerializer.Serialize(ids) })
        {
            var (status, body, _) = await T.PostAsync("/v1/completions",
                $$"""{"model":"{{T.Server.ModelId}}","prompt":{{prompt}},"max_tokens":16,"temperature":0,"logprobs":1}""", Ct);
            Assert.Equal(200, status);
            JsonElement choice = body!.Value.GetProperty("choices")[0];
            Assert.Equal("text_completion", body.Value.GetProperty("object").GetString());
            Assert.Equal(text, choice.GetProperty("text").GetString());
            Assert.Equal(ids.Length, body.Value.GetProperty("usage").GetProperty("prompt_tokens").GetInt32());
            Assert.Equal(tokens, body.Value.GetProperty("usage").GetProperty("completion_tokens").GetInt32());
            Assert.Equal(tokens, choice.GetProperty("logprobs").GetProperty("token_logprobs").GetArrayLength());
        }
    }

    [Fact]
    public async Task StreamedCompletionEndsWithUsageAndDone()
    {
        int[] ids = [.. Tok.Encode(Prompt)];
        (string text, int tokens) = Greedy(ids, 12);
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/completions")
        {
            Content = new StringContent($$$"""{"prompt":"{{{Prompt}}}","max_tokens":12,"temperature":0,"stream":true,"stream_options":{"include_usage":true}}""",
                Encoding.UTF8, "application/json"),
        };
        using HttpResponseMessage response = await T.Http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        string[] data = [.. (await response.Content.ReadAsStringAsync(Ct)).Split('\n')
            .Where(l => l.StartsWith("data: ", StringComparison.Ordinal)).Select(l => l[6..])];
        Assert.Equal("[DONE]", data[^1]);
        JsonElement usage = JsonDocument.Parse(data[^2]).RootElement.GetProperty("usage");
        Assert.Equal(tokens, usage.GetProperty("completion_tokens").GetInt32());
        string streamed = string.Concat(data[..^2].Select(d => JsonDocument.Parse(d).RootElement.GetProperty("choices")[0].GetProperty("text").GetString()));
        Assert.Equal(text, streamed);
    }

    [Fact]
    public async Task SeveralChoicesComeFromOneRequest()
    {
        var (status, body, _) = await T.PostAsync("/v1/chat/completions",
            """{"messages":[{"role":"user","content":"ROMEO:"}],"n":3,"max_tokens":10,"temperature":1.0,"seed":5}""", Ct);
        Assert.Equal(200, status);
        JsonElement choices = body!.Value.GetProperty("choices");
        Assert.Equal([0, 1, 2], choices.EnumerateArray().Select(c => c.GetProperty("index").GetInt32()));
        int sum = choices.EnumerateArray().Sum(c => Tok.Encode(c.GetProperty("message").GetProperty("content").GetString()!).Count);
        Assert.True(body.Value.GetProperty("usage").GetProperty("completion_tokens").GetInt32() >= 3);
        Assert.True(sum > 0);
    }
}
