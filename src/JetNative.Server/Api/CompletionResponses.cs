using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;
using System.Text.Json.Nodes;
using JetNative.Tokenization;

namespace JetNative.Server.Api;

/// <summary>
/// OpenAI's response shapes: chat.completion(.chunk) and text_completion, with usage and the
/// chosen tokens' log-probabilities (top alternatives are not returned: top_logprobs is empty).
/// </summary>
internal sealed class CompletionResponses(bool chat, string model, JetTokenizer tokenizer)
{
    /// <summary>JSON as clients expect it: text not \u-escaped beyond what JSON needs.</summary>
    internal static readonly JsonSerializerOptions Json = new() { Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    /// <summary>"chatcmpl-..." or "cmpl-...".</summary>
    public string Id { get; } = (chat ? "chatcmpl-" : "cmpl-") + Guid.NewGuid().ToString("N");

    /// <summary>Unix seconds.</summary>
    public long Created { get; } = DateTimeOffset.UtcNow.ToUnixTimeSeconds();

    /// <summary>One choice's generated text and log-probabilities.</summary>
    public sealed class Choice
    {
        public StringBuilder Text { get; } = new();
        public List<(int Token, float Logprob)> Logprobs { get; } = [];
        public string? FinishReason;
        public int CompletionTokens;
    }

    /// <summary>A whole (non-streamed) response.</summary>
    public JsonObject Complete(IReadOnlyList<Choice> choices, int promptTokens, bool logprobs)
    {
        var array = new JsonArray();
        for (int i = 0; i < choices.Count; i++)
        {
            Choice c = choices[i];
            JsonObject choice = chat
                ? new JsonObject
                {
                    ["index"] = i,
                    ["message"] = new JsonObject { ["role"] = "assistant", ["content"] = c.Text.ToString() },
                    ["logprobs"] = logprobs ? ChatLogprobs(c.Logprobs) : null,
                    ["finish_reason"] = c.FinishReason,
                }
                : new JsonObject
                {
                    ["index"] = i,
                    ["text"] = c.Text.ToString(),
                    ["logprobs"] = logprobs ? TextLogprobs(c.Logprobs, 0) : null,
                    ["finish_reason"] = c.FinishReason,
                };
            array.Add(choice);
        }
        JsonObject o = Header(chat ? "chat.completion" : "text_completion");
        o["choices"] = array;
        o["usage"] = Usage(promptTokens, choices.Sum(c => c.CompletionTokens));
        return o;
    }

    /// <summary>A streamed chunk for one choice: text (and the token's log-probability), the role, or the finish reason.</summary>
    public string Chunk(int index, string? text, (int Token, float Logprob)? logprob, string? finishReason, bool role, bool usageNull, int textOffset)
    {
        JsonObject choice;
        if (chat)
        {
            var delta = new JsonObject();
            if (role) delta["role"] = "assistant";
            if (text is not null) delta["content"] = text;
            choice = new JsonObject
            {
                ["index"] = index,
                ["delta"] = delta,
                ["logprobs"] = logprob is { } lp ? ChatLogprobs([lp]) : null,
                ["finish_reason"] = finishReason,
            };
        }
        else
        {
            choice = new JsonObject
            {
                ["index"] = index,
                ["text"] = text ?? "",
                ["logprobs"] = logprob is { } lp ? TextLogprobs([lp], textOffset) : null,
                ["finish_reason"] = finishReason,
            };
        }
        JsonObject o = Header(chat ? "chat.completion.chunk" : "text_completion");
        o["choices"] = new JsonArray(choice);
        if (usageNull) o["usage"] = null;
        return o.ToJsonString(Json);
    }

    /// <summary>The last chunk of stream_options.include_usage: no choices, the usage.</summary>
    public string UsageChunk(int promptTokens, int completionTokens)
    {
        JsonObject o = Header(chat ? "chat.completion.chunk" : "text_completion");
        o["choices"] = new JsonArray();
        o["usage"] = Usage(promptTokens, completionTokens);
        return o.ToJsonString(Json);
    }

    private JsonObject Header(string kind) => new()
    {
        ["id"] = Id,
        ["object"] = kind,
        ["created"] = Created,
        ["model"] = model,
    };

    private static JsonObject Usage(int prompt, int completion) => new()
    {
        ["prompt_tokens"] = prompt,
        ["completion_tokens"] = completion,
        ["total_tokens"] = prompt + completion,
    };

    private JsonObject ChatLogprobs(IEnumerable<(int Token, float Logprob)> tokens)
    {
        var content = new JsonArray();
        foreach ((int token, float logprob) in tokens)
        {
            string text = tokenizer.Decode([token]);
            var bytes = new JsonArray();
            foreach (byte b in Encoding.UTF8.GetBytes(text)) bytes.Add(b);
            content.Add(new JsonObject
            {
                ["token"] = text,
                ["logprob"] = logprob,
                ["bytes"] = bytes,
                ["top_logprobs"] = new JsonArray(),
            });
        }
        return new JsonObject { ["content"] = content };
    }

    private JsonObject TextLogprobs(IEnumerable<(int Token, float Logprob)> tokens, int offset)
    {
        var texts = new JsonArray();
        var logprobs = new JsonArray();
        var offsets = new JsonArray();
        foreach ((int token, float logprob) in tokens)
        {
            string text = tokenizer.Decode([token]);
            texts.Add(text);
            logprobs.Add(logprob);
            offsets.Add(offset);
            offset += text.Length;
        }
        return new JsonObject
        {
            ["tokens"] = texts,
            ["token_logprobs"] = logprobs,
            ["top_logprobs"] = null,
            ["text_offset"] = offsets,
        };
    }
}
