using JetNative.Chat;
using JetNative.Tests.Support;
using Microsoft.Extensions.AI;
using Xunit;
using JetNative.Tokenization;

namespace JetNative.Tests.Chat;

public sealed class JetChatClientTests
{
    private static readonly ChatMessage[] Conversation =
    [
        new(ChatRole.System, "You are terse."),
        new(ChatRole.User, "Tell me a story."),
    ];

    private static ChatOptions Seeded(int max = 24) => new() { Temperature = 0.7f, Seed = 123, MaxOutputTokens = max, TopK = 20 };

    [Fact]
    public void ThePromptIsTheChatTemplateAndTheOptionsAreHonoured()
    {
        JetModel model = TestModels.Get("demo");
        var client = (JetChatClient)model.AsChatClient();
        var options = new ChatOptions
        {
            Temperature = 0.3f, TopP = 0.5f, TopK = 7, MaxOutputTokens = 33, Seed = 99, StopSequences = ["\n\n"],
        };
        (int[] prompt, JetGenerationOptions generation) = client.Prepare(Conversation, options);
        string rendered = model.Tokenizer!.ApplyChatTemplate([("system", "You are terse."), ("user", "Tell me a story.")]);
        Assert.Equal(model.Tokenizer.Encode(rendered), prompt);
        Assert.Equal(0.3f, generation.Sampling.Temperature);
        Assert.Equal(0.5f, generation.Sampling.TopP);
        Assert.Equal(7, generation.Sampling.TopK);
        Assert.Equal(99UL, generation.Sampling.Seed);
        Assert.Equal(new JetSamplingOptions().MinP, generation.Sampling.MinP);
        Assert.Equal(33, generation.MaxTokens);
        Assert.Equal(["\n\n"], generation.StopStrings);
        Assert.True(generation.StopAtEndOfSequence);

        options.AdditionalProperties = new AdditionalPropertiesDictionary
        {
            ["min_p"] = 0.2f, ["repeat_penalty"] = 1.3f, ["repeat_last_n"] = 16,
        };
        (_, generation) = client.Prepare(Conversation, options);
        Assert.Equal((0.2f, 1.3f, 16), (generation.Sampling.MinP, generation.Sampling.RepeatPenalty, generation.Sampling.RepeatLastN));
    }

    [Fact]
    public async Task StreamingAndNonStreamingGiveTheSameText()
    {
        JetModel model = TestModels.Get("demo");
        IChatClient client = model.AsChatClient();
        ChatResponse response = await client.GetResponseAsync(Conversation, Seeded(), TestContext.Current.CancellationToken);
        var updates = new List<ChatResponseUpdate>();
        await foreach (ChatResponseUpdate u in client.GetStreamingResponseAsync(Conversation, Seeded(), TestContext.Current.CancellationToken))
            updates.Add(u);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(ChatRole.Assistant, response.Messages[0].Role);
        Assert.NotNull(response.FinishReason);
        Assert.Equal(response.FinishReason, updates[^1].FinishReason);
        Assert.True(response.Usage!.InputTokenCount > 10);
        Assert.InRange(response.Usage.OutputTokenCount!.Value, 1, 24);
        if (response.FinishReason == ChatFinishReason.Length)
            Assert.Equal(24, response.Usage.OutputTokenCount);
    }

    [Fact]
    public async Task ConcurrentRequestsOnOneClient()
    {
        JetModel model = TestModels.Get("demo");
        IChatClient client = model.AsChatClient();
        ChatResponse sequential = await client.GetResponseAsync(Conversation, Seeded(), TestContext.Current.CancellationToken);
        ChatResponse[] parallel = await Task.WhenAll(Enumerable.Range(0, 3).Select(_ =>
            client.GetResponseAsync(Conversation, Seeded(), TestContext.Current.CancellationToken)));
        Assert.All(parallel, r => Assert.Equal(sequential.Text, r.Text));
    }

    [Fact]
    public async Task CancellingAStreamingResponse()
    {
        JetModel model = TestModels.Get("demo");
        IChatClient client = model.AsChatClient();
        using var cts = new CancellationTokenSource();
        int seen = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync(Conversation, Seeded(2000), cts.Token))
            {
                if (++seen == 2)
                    cts.Cancel();
            }
        });
    }

    [Fact]
    public void MetadataAndServices()
    {
        JetModel model = TestModels.Get("demo");
        IChatClient client = model.AsChatClient();
        var metadata = client.GetService<ChatClientMetadata>();
        Assert.Equal("JetNative", metadata!.ProviderName);
        Assert.Equal("jetnative-demo", metadata.DefaultModelId);
        Assert.Same(model, client.GetService<JetModel>());
        Assert.Same(model.Tokenizer, client.GetService<JetTokenizer>());
        Assert.Null(client.GetService<JetModel>("key"));
    }

    [Fact]
    public async Task APromptLongerThanTheContextIsAClearError()
    {
        JetModel model = TestModels.Get("demo");
        IChatClient client = model.AsChatClient();
        string huge = string.Join(' ', Enumerable.Repeat("story", model.Info.MaxPositionEmbeddings + 10));
        var e = await Assert.ThrowsAsync<JetException>(() =>
            client.GetResponseAsync([new ChatMessage(ChatRole.User, huge)], Seeded(), TestContext.Current.CancellationToken));
        Assert.Equal(JetStatus.ContextFull, e.Status);
    }

    [Fact]
    public async Task WithoutASeedEachCallDrawsItsOwn()
    {
        JetModel model = TestModels.Get("demo");
        IChatClient client = model.AsChatClient();
        var options = new ChatOptions { MaxOutputTokens = 24 };  // the default temperature, 0.8
        var texts = new List<string>();
        for (int i = 0; i < 4; i++)
            texts.Add((await client.GetResponseAsync("Hello", options, TestContext.Current.CancellationToken)).Text);
        Assert.True(texts.Distinct().Count() > 1, $"four unseeded answers were all '{texts[0]}'");
        Assert.Null(((JetChatClient)client).Prepare([new ChatMessage(ChatRole.User, "Hello")], options).Options.Sampling.Seed);
    }

    [Fact]
    public async Task ToolsAndJsonResponseFormatsAreRefusedNotIgnored()
    {
        JetModel model = TestModels.Get("demo");
        IChatClient client = model.AsChatClient();
        var tools = new ChatOptions { Tools = [AIFunctionFactory.Create(() => 42, "answer")] };
        var e = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Conversation, tools, TestContext.Current.CancellationToken));
        Assert.Contains("tools", e.Message);
        foreach (ChatResponseFormat format in new[] { ChatResponseFormat.Json, ChatResponseFormat.ForJsonSchema(System.Text.Json.JsonDocument.Parse("{\"type\":\"object\"}").RootElement) })
        {
            var json = new ChatOptions { ResponseFormat = format };
            e = await Assert.ThrowsAsync<NotSupportedException>(() => client.GetResponseAsync(Conversation, json, TestContext.Current.CancellationToken));
            Assert.Contains("ResponseFormat", e.Message);
            await Assert.ThrowsAsync<NotSupportedException>(async () =>
            {
                await foreach (ChatResponseUpdate _ in client.GetStreamingResponseAsync(Conversation, json, TestContext.Current.CancellationToken)) { }
            });
        }
        var text = Seeded(4);
        text.ResponseFormat = ChatResponseFormat.Text;
        text.Tools = [];
        Assert.NotNull((await client.GetResponseAsync(Conversation, text, TestContext.Current.CancellationToken)).FinishReason);
    }

    [Fact]
    public async Task TheFinishReasonIsLengthAtTheOutputLimitAndStopAtTheEndOfTheTurn()
    {
        JetModel model = TestModels.Get("demo");
        IChatClient client = model.AsChatClient();
        var greedy = new ChatOptions { Temperature = 0, MaxOutputTokens = 12 };
        ChatResponse cut = await client.GetResponseAsync(Conversation, greedy, TestContext.Current.CancellationToken);
        Assert.True(cut.FinishReason == ChatFinishReason.Length || cut.Usage!.OutputTokenCount < 12);
        if (cut.FinishReason == ChatFinishReason.Length)
            Assert.Equal(12, cut.Usage!.OutputTokenCount);
        Assert.True(cut.Text.Length > 4, $"answer too short: '{cut.Text}'");
        greedy.StopSequences = [cut.Text.Substring(2, 2)];
        ChatResponse stopped = await client.GetResponseAsync(Conversation, greedy, TestContext.Current.CancellationToken);
        Assert.Equal(ChatFinishReason.Stop, stopped.FinishReason);
        Assert.Equal(cut.Text[..cut.Text.IndexOf(cut.Text.Substring(2, 2), StringComparison.Ordinal)], stopped.Text);
        Assert.Equal(JetChatClient.FinishReason(new JetGeneration(model, new JetGenerationOptions(), 0)), ChatFinishReason.Length);
    }
}
