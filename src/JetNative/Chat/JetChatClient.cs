using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using JetNative.Tokenization;

namespace JetNative.Chat;

/// <summary>
/// A Microsoft.Extensions.AI chat client over a <see cref="JetModel"/>: messages are rendered with
/// the checkpoint's ChatML template, and each request runs in its own session (sized to the prompt
/// plus the output limit), so concurrent requests are fine. ChatOptions honoured: Temperature,
/// TopP, TopK, MaxOutputTokens, Seed, StopSequences. Disposing the client does not dispose the model.
/// </summary>
public sealed class JetChatClient : IChatClient
{
    private readonly JetModel _model;
    private readonly JetTokenizer _tokenizer;
    private readonly ChatClientMetadata _metadata;

    public JetChatClient(JetModel model, JetSamplingOptions? defaultSampling = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        _model = model;
        _tokenizer = model.Tokenizer ?? throw new InvalidOperationException(
            $"the model{(model.Folder is null ? "" : " in " + model.Folder)} has no tokenizer (tokenizer.json), which a chat client needs");
        DefaultSampling = defaultSampling ?? new JetSamplingOptions();
        string modelId = model.Folder is null ? "jet-random" : Path.GetFileName(model.Folder.TrimEnd(Path.DirectorySeparatorChar));
        _metadata = new ChatClientMetadata("JetNative", null, modelId);
    }

    /// <summary>Sampling used where ChatOptions leaves a value unset.</summary>
    public JetSamplingOptions DefaultSampling { get; }

    /// <summary>Output limit when ChatOptions.MaxOutputTokens is unset. Default 512.</summary>
    public int DefaultMaxOutputTokens { get; init; } = 512;

    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        var stats = new JetSession.GenerationStats();
        (int[] prompt, JetGenerationOptions generation) = Prepare(messages, options);
        await foreach (string piece in RunAsync(prompt, generation, stats, cancellationToken).ConfigureAwait(false))
            text.Append(piece);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = _metadata.DefaultModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = stats.Stopped ? ChatFinishReason.Stop : ChatFinishReason.Length,
            Usage = Usage(prompt.Length, stats.GeneratedTokens),
        };
    }

    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var stats = new JetSession.GenerationStats();
        (int[] prompt, JetGenerationOptions generation) = Prepare(messages, options);
        string responseId = Guid.NewGuid().ToString("N");
        await foreach (string piece in RunAsync(prompt, generation, stats, cancellationToken).ConfigureAwait(false))
        {
            yield return new ChatResponseUpdate(ChatRole.Assistant, piece)
            {
                ResponseId = responseId,
                ModelId = _metadata.DefaultModelId,
            };
        }
        yield return new ChatResponseUpdate
        {
            Role = ChatRole.Assistant,
            ResponseId = responseId,
            ModelId = _metadata.DefaultModelId,
            FinishReason = stats.Stopped ? ChatFinishReason.Stop : ChatFinishReason.Length,
            Contents = [new UsageContent(Usage(prompt.Length, stats.GeneratedTokens))],
        };
    }

    private static UsageDetails Usage(int input, int output) =>
        new() { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output };

    /// <summary>The prompt ids and generation options of one request.</summary>
    internal (int[] Prompt, JetGenerationOptions Options) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var turns = messages.Select(m => (m.Role.Value, m.Text ?? "")).ToList();
        if (turns.Count == 0)
            throw new ArgumentException("a chat request needs at least one message", nameof(messages));
        string rendered = _tokenizer.ApplyChatTemplate(turns, addGenerationPrompt: true);
        int[] prompt = _tokenizer.Encode(rendered).ToArray();

        JetSamplingOptions sampling = DefaultSampling;
        if (options is not null)
        {
            sampling = sampling with
            {
                Temperature = options.Temperature ?? sampling.Temperature,
                TopP = options.TopP ?? sampling.TopP,
                TopK = options.TopK ?? sampling.TopK,
                Seed = options.Seed is long seed ? unchecked((ulong)seed) : sampling.Seed,
            };
            if (options.AdditionalProperties is { } extra)
            {
                if (extra.TryGetValue("min_p", out float minP))
                    sampling = sampling with { MinP = minP };
                if (extra.TryGetValue("repeat_penalty", out float penalty))
                    sampling = sampling with { RepeatPenalty = penalty };
                if (extra.TryGetValue("repeat_last_n", out int lastN))
                    sampling = sampling with { RepeatLastN = lastN };
            }
        }
        int maxTokens = options?.MaxOutputTokens ?? DefaultMaxOutputTokens;
        if (maxTokens <= 0)
            throw new ArgumentOutOfRangeException(nameof(options), maxTokens, "MaxOutputTokens must be > 0");
        var generation = new JetGenerationOptions
        {
            Sampling = sampling,
            MaxTokens = maxTokens,
            StopStrings = options?.StopSequences?.ToArray() ?? [],
            StopAtEndOfSequence = true,
        };
        return (prompt, generation);
    }

    private async IAsyncEnumerable<string> RunAsync(int[] prompt, JetGenerationOptions generation,
        JetSession.GenerationStats stats, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int context = Math.Min(_model.Info.MaxPositionEmbeddings, prompt.Length + generation.MaxTokens);
        if (prompt.Length >= context)
            throw new JetException(JetStatus.ContextFull,
                $"the prompt has {prompt.Length} tokens; the model's context is {_model.Info.MaxPositionEmbeddings}");
        generation = generation with { MaxTokens = Math.Min(generation.MaxTokens, context - prompt.Length) };
        using JetSession session = _model.CreateSession(new JetSessionOptions { Context = context });
        await foreach (string piece in session.GenerateTextAsync(prompt, generation, 0, stats, cancellationToken).ConfigureAwait(false))
            yield return piece;
    }

    public object? GetService(Type serviceType, object? serviceKey = null)
    {
        ArgumentNullException.ThrowIfNull(serviceType);
        if (serviceKey is not null)
            return null;
        if (serviceType == typeof(ChatClientMetadata))
            return _metadata;
        if (serviceType.IsInstanceOfType(this))
            return this;
        if (serviceType.IsInstanceOfType(_model))
            return _model;
        if (serviceType.IsInstanceOfType(_tokenizer))
            return _tokenizer;
        return null;
    }

    public void Dispose()
    {
    }
}
