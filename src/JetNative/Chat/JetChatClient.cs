using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;
using JetNative.Tokenization;

namespace JetNative.Chat;

/// <summary>
/// A Microsoft.Extensions.AI chat client over a <see cref="JetModel"/>: messages are rendered with
/// the checkpoint's ChatML template, and each request runs in its own session (sized to the prompt
/// plus the output limit), so concurrent requests are fine. ChatOptions honoured: Temperature,
/// TopP, TopK, MaxOutputTokens, Seed (unset: a random seed per request), StopSequences, and the
/// AdditionalProperties min_p, repeat_penalty and repeat_last_n. Not supported (NotSupportedException):
/// Tools (function calling) and a ResponseFormat other than text (JSON mode, JSON schemas). The
/// response's FinishReason is Stop (end of turn, a stop sequence) or Length (the output limit, or
/// the model's context). Disposing the client does not dispose the model.
/// </summary>
public sealed class JetChatClient : IChatClient
{
    private readonly JetModel _model;
    private readonly JetTokenizer _tokenizer;
    private readonly ChatClientMetadata _metadata;

    /// <summary>
    /// A chat client over <paramref name="model"/> (which needs a tokenizer, else
    /// InvalidOperationException), with <paramref name="defaultSampling"/> where ChatOptions leaves a
    /// value unset (default: <see cref="JetSamplingOptions"/>'s defaults, a random seed per request).
    /// </summary>
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

    /// <summary>
    /// Generates the assistant's answer to <paramref name="messages"/>. Throws NotSupportedException
    /// for Tools or a non-text ResponseFormat, ArgumentOutOfRangeException for MaxOutputTokens &lt;= 0,
    /// JetException (ContextFull) for a prompt that does not fit the model's context,
    /// OperationCanceledException when cancelled.
    /// </summary>
    public async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        var text = new System.Text.StringBuilder();
        JetGeneration? generation = null;
        (int[] prompt, JetGenerationOptions generationOptions) = Prepare(messages, options);
        await foreach (string piece in RunAsync(prompt, generationOptions, g => generation = g, cancellationToken).ConfigureAwait(false))
            text.Append(piece);
        return new ChatResponse(new ChatMessage(ChatRole.Assistant, text.ToString()))
        {
            ModelId = _metadata.DefaultModelId,
            CreatedAt = DateTimeOffset.UtcNow,
            FinishReason = FinishReason(generation!),
            Usage = Usage(prompt.Length, generation!.Count),
        };
    }

    /// <summary>
    /// Streams the assistant's answer piece by piece; the last update carries the FinishReason and
    /// the usage. Throws as <see cref="GetResponseAsync"/> does.
    /// </summary>
    public async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(IEnumerable<ChatMessage> messages,
        ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        JetGeneration? generation = null;
        (int[] prompt, JetGenerationOptions generationOptions) = Prepare(messages, options);
        string responseId = Guid.NewGuid().ToString("N");
        await foreach (string piece in RunAsync(prompt, generationOptions, g => generation = g, cancellationToken).ConfigureAwait(false))
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
            FinishReason = FinishReason(generation!),
            Contents = [new UsageContent(Usage(prompt.Length, generation!.Count))],
        };
    }

    /// <summary>The chat finish reason of a generation that ran to its end (Stop or Length).</summary>
    internal static ChatFinishReason FinishReason(JetGeneration generation) => generation.FinishReason switch
    {
        JetFinishReason.Stop => ChatFinishReason.Stop,
        JetFinishReason.Length => ChatFinishReason.Length,
        var other => throw new InvalidOperationException($"the generation ended as {other?.ToString() ?? "unfinished"}"),
    };

    private static UsageDetails Usage(int input, int output) =>
        new() { InputTokenCount = input, OutputTokenCount = output, TotalTokenCount = input + output };

    /// <summary>The prompt ids and generation options of one request.</summary>
    internal (int[] Prompt, JetGenerationOptions Options) Prepare(IEnumerable<ChatMessage> messages, ChatOptions? options)
    {
        ArgumentNullException.ThrowIfNull(messages);
        if (options?.Tools is { Count: > 0 })
            throw new NotSupportedException(
                "JetChatClient does not support tools (function calling): ChatOptions.Tools must be empty");
        if (options?.ResponseFormat is { } format && format is not ChatResponseFormatText)
            throw new NotSupportedException(
                "JetChatClient does not support structured output: ChatOptions.ResponseFormat must be null or ChatResponseFormat.Text (JSON mode and JSON schemas are not constrained)");
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
        Action<JetGeneration> started, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        int context = Math.Min(_model.Info.MaxPositionEmbeddings, prompt.Length + generation.MaxTokens);
        if (prompt.Length >= context)
            throw new JetException(JetStatus.ContextFull,
                $"the prompt has {prompt.Length} tokens; the model's context is {_model.Info.MaxPositionEmbeddings}");
        using JetSession session = _model.CreateSession(new JetSessionOptions { Context = context });
        await foreach (string piece in session.GenerateTextAsync(prompt, generation, 0, started, cancellationToken).ConfigureAwait(false))
            yield return piece;
    }

    /// <summary>
    /// Services: <see cref="ChatClientMetadata"/>, this client, its <see cref="JetModel"/> and its
    /// <see cref="JetTokenizer"/>; null for anything else or a non-null key.
    /// </summary>
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

    /// <summary>Does nothing: the client owns no resources (the model stays the caller's).</summary>
    public void Dispose()
    {
    }
}
