using System.Text.Json;
using JetNative.Tokenization;

namespace JetNative.Server.Api;

/// <summary>What the server takes from a /v1/completions or /v1/chat/completions body.</summary>
public sealed record CompletionParams
{
    /// <summary>The model asked for (null: the server's).</summary>
    public string? Model { get; init; }

    /// <summary>The prompt's token ids (chat: after the chat template).</summary>
    public required int[] Prompt { get; init; }

    /// <summary>Choices to generate.</summary>
    public int N { get; init; } = 1;

    /// <summary>max_tokens / max_completion_tokens (null: up to the context).</summary>
    public int? MaxTokens { get; init; }

    /// <summary>Sampling of choice 0 (choice i: seed + i).</summary>
    public required JetSamplingOptions Sampling { get; init; }

    /// <summary>Stop strings.</summary>
    public IReadOnlyList<string> Stop { get; init; } = [];

    /// <summary>Return the chosen tokens' log-probabilities.</summary>
    public bool Logprobs { get; init; }

    /// <summary>Stream as server-sent events.</summary>
    public bool Stream { get; init; }

    /// <summary>stream_options.include_usage: a last chunk with the usage.</summary>
    public bool IncludeUsage { get; init; }

    /// <summary>Keep going past the end-of-sequence tokens (benchmarks).</summary>
    public bool IgnoreEos { get; init; }

    /// <summary>Reads a chat request: messages through the model's chat template.</summary>
    public static CompletionParams ParseChat(JsonElement root, JetTokenizer tokenizer)
    {
        RequireObject(root);
        if (!root.TryGetProperty("messages", out JsonElement messages) || messages.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest("'messages' is required and must be an array", "messages");
        var turns = new List<(string Role, string Content)>();
        foreach (JsonElement m in messages.EnumerateArray())
        {
            if (m.ValueKind != JsonValueKind.Object)
                throw ApiException.BadRequest("each message must be an object with 'role' and 'content'", "messages");
            string role = OptionalString(m, "role", "messages") ?? throw ApiException.BadRequest("a message has no 'role'", "messages");
            role = role switch
            {
                "system" or "developer" => "system",
                "user" or "assistant" or "tool" => role,
                _ => throw ApiException.BadRequest($"unknown message role '{role}' (system, developer, user, assistant, tool)", "messages"),
            };
            turns.Add((role, MessageContent(m)));
        }
        if (turns.Count == 0) throw ApiException.BadRequest("'messages' is empty", "messages");
        bool logprobs = OptionalBool(root, "logprobs") ?? false;
        int? top = OptionalInt(root, "top_logprobs", 0, 20);
        if (top > 0 && !logprobs) throw ApiException.BadRequest("'top_logprobs' needs 'logprobs': true", "top_logprobs");
        string rendered = tokenizer.ApplyChatTemplate(turns, addGenerationPrompt: true);
        return Common(root, [.. tokenizer.Encode(rendered)]) with { Logprobs = logprobs };
    }

    /// <summary>Reads a completion request: prompt as text, token ids, or a one-element array of either.</summary>
    public static CompletionParams ParseCompletion(JsonElement root, JetTokenizer tokenizer, int vocabSize)
    {
        RequireObject(root);
        if (!root.TryGetProperty("prompt", out JsonElement prompt) || prompt.ValueKind == JsonValueKind.Null)
            throw ApiException.BadRequest("'prompt' is required", "prompt");
        int[] ids = PromptIds(prompt, tokenizer, vocabSize);
        int? logprobs = OptionalInt(root, "logprobs", 0, 5);
        if (OptionalBool(root, "echo") == true) throw ApiException.BadRequest("'echo' is not supported", "echo");
        return Common(root, ids) with { Logprobs = logprobs is not null };
    }

    private static CompletionParams Common(JsonElement root, int[] prompt)
    {
        if (prompt.Length == 0) throw ApiException.BadRequest("the prompt is empty", "prompt");
        int? maxTokens = OptionalInt(root, "max_completion_tokens", 1, int.MaxValue) ?? OptionalInt(root, "max_tokens", 1, int.MaxValue);
        float temperature = OptionalFloat(root, "temperature", 0, 2) ?? 1f;
        float topP = OptionalFloat(root, "top_p", 0, 1) ?? 1f;
        if (topP <= 0) throw ApiException.BadRequest("'top_p' must be in (0, 1]", "top_p");
        long seed = OptionalLong(root, "seed") ?? Random.Shared.NextInt64();
        bool stream = OptionalBool(root, "stream") ?? false;
        bool includeUsage = false;
        if (root.TryGetProperty("stream_options", out JsonElement so) && so.ValueKind != JsonValueKind.Null)
        {
            if (so.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("'stream_options' must be an object", "stream_options");
            includeUsage = OptionalBool(so, "include_usage", "stream_options.include_usage") ?? false;
        }
        return new CompletionParams
        {
            Model = OptionalString(root, "model", "model"),
            Prompt = prompt,
            N = OptionalInt(root, "n", 1, 128) ?? 1,
            MaxTokens = maxTokens,
            Sampling = new JetSamplingOptions
            {
                Temperature = temperature, TopP = topP, TopK = 0, MinP = 0, RepeatPenalty = 1, Seed = unchecked((ulong)seed),
            },
            Stop = StopStrings(root),
            Stream = stream,
            IncludeUsage = includeUsage,
            IgnoreEos = OptionalBool(root, "ignore_eos") ?? false,
        };
    }

    private static void RequireObject(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object) throw ApiException.BadRequest("the request body must be a JSON object");
    }

    private static int[] PromptIds(JsonElement prompt, JetTokenizer tokenizer, int vocabSize)
    {
        switch (prompt.ValueKind)
        {
            case JsonValueKind.String:
                return [.. tokenizer.Encode(prompt.GetString()!)];
            case JsonValueKind.Array:
                int count = prompt.GetArrayLength();
                if (count == 0) throw ApiException.BadRequest("the prompt is empty", "prompt");
                JsonElement first = prompt[0];
                if (first.ValueKind is JsonValueKind.String or JsonValueKind.Array)
                {
                    if (count > 1) throw ApiException.BadRequest("only one prompt per request is supported (use n for several choices)", "prompt");
                    return PromptIds(first, tokenizer, vocabSize);
                }
                var ids = new int[count];
                int i = 0;
                foreach (JsonElement e in prompt.EnumerateArray())
                {
                    if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int id))
                        throw ApiException.BadRequest("'prompt' must be a string, an array of token ids, or a one-element array of either", "prompt");
                    if (id < 0 || id >= vocabSize)
                        throw ApiException.BadRequest($"token id {id} is outside the vocabulary [0, {vocabSize})", "prompt");
                    ids[i++] = id;
                }
                return ids;
            default:
                throw ApiException.BadRequest("'prompt' must be a string, an array of token ids, or a one-element array of either", "prompt");
        }
    }

    private static string MessageContent(JsonElement message)
    {
        if (!message.TryGetProperty("content", out JsonElement content) || content.ValueKind == JsonValueKind.Null)
            return "";
        if (content.ValueKind == JsonValueKind.String) return content.GetString()!;
        if (content.ValueKind != JsonValueKind.Array)
            throw ApiException.BadRequest("a message's 'content' must be a string or an array of text parts", "messages");
        var text = new System.Text.StringBuilder();
        foreach (JsonElement part in content.EnumerateArray())
        {
            if (part.ValueKind != JsonValueKind.Object || OptionalString(part, "type", "messages") != "text")
                throw ApiException.BadRequest("only text content parts are supported", "messages");
            text.Append(OptionalString(part, "text", "messages"));
        }
        return text.ToString();
    }

    private static string[] StopStrings(JsonElement root)
    {
        if (!root.TryGetProperty("stop", out JsonElement stop) || stop.ValueKind == JsonValueKind.Null) return [];
        if (stop.ValueKind == JsonValueKind.String) return stop.GetString() is { Length: > 0 } s ? [s] : [];
        if (stop.ValueKind != JsonValueKind.Array) throw ApiException.BadRequest("'stop' must be a string or an array of strings", "stop");
        var list = new List<string>();
        foreach (JsonElement e in stop.EnumerateArray())
        {
            if (e.ValueKind != JsonValueKind.String) throw ApiException.BadRequest("'stop' must be a string or an array of strings", "stop");
            if (e.GetString() is { Length: > 0 } s) list.Add(s);
        }
        if (list.Count > 16) throw ApiException.BadRequest("at most 16 stop strings", "stop");
        return [.. list];
    }

    private static string? OptionalString(JsonElement o, string name, string param)
    {
        if (!o.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.String) throw ApiException.BadRequest($"'{name}' must be a string", param);
        return e.GetString();
    }

    private static bool? OptionalBool(JsonElement o, string name, string? param = null)
    {
        if (!o.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        return e.ValueKind switch
        {
            JsonValueKind.True => true,
            JsonValueKind.False => false,
            _ => throw ApiException.BadRequest($"'{name}' must be true or false", param ?? name),
        };
    }

    private static int? OptionalInt(JsonElement o, string name, int min, int max)
    {
        if (!o.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt32(out int v))
            throw ApiException.BadRequest($"'{name}' must be an integer", name);
        if (v < min || v > max)
            throw ApiException.BadRequest(max == int.MaxValue ? $"'{name}' must be >= {min}, not {v}" : $"'{name}' must be in [{min}, {max}], not {v}", name);
        return v;
    }

    private static long? OptionalLong(JsonElement o, string name)
    {
        if (!o.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetInt64(out long v))
            throw ApiException.BadRequest($"'{name}' must be an integer", name);
        return v;
    }

    private static float? OptionalFloat(JsonElement o, string name, float min, float max)
    {
        if (!o.TryGetProperty(name, out JsonElement e) || e.ValueKind == JsonValueKind.Null) return null;
        if (e.ValueKind != JsonValueKind.Number || !e.TryGetDouble(out double v) || !double.IsFinite(v))
            throw ApiException.BadRequest($"'{name}' must be a number", name);
        if (v < min || v > max) throw ApiException.BadRequest($"'{name}' must be in [{min}, {max}], not {v}", name);
        return (float)v;
    }
}
