using System.Text.Json;
using Xunit;

namespace JetNative.Tests.Tokenization;

/// <summary>../shared/fixtures/tokenizer/tokenizer-golden.json: ids from Hugging Face tokenizers.</summary>
internal sealed record TokenizerGolden(IReadOnlyList<TokenizerGolden.GoldenString> Strings, TokenizerGolden.GoldenChat Chat)
{
    public sealed record GoldenString(string Text, int[] JetIds);

    public sealed record GoldenChat(IReadOnlyList<(string Role, string Content)> Messages, bool AddGenerationPrompt, string Text, int[] JetIds);

    public static TokenizerGolden Load()
    {
        string path = Path.Combine(TokenizerTestPaths.RequireSharedTokenizer(), "tokenizer-golden.json");
        using var doc = JsonDocument.Parse(File.ReadAllBytes(path));
        var root = doc.RootElement;
        var strings = root.GetProperty("strings").EnumerateArray()
            .Select(s => new GoldenString(s.GetProperty("text").GetString()!, Ids(s.GetProperty("jet_ids"))))
            .ToList();
        var chat = root.GetProperty("chat");
        var messages = chat.GetProperty("messages").EnumerateArray()
            .Select(m => (m.GetProperty("role").GetString()!, m.GetProperty("content").GetString()!))
            .ToList();
        return new TokenizerGolden(strings, new GoldenChat(messages, chat.GetProperty("add_generation_prompt").GetBoolean(),
            chat.GetProperty("text").GetString()!, Ids(chat.GetProperty("jet_ids"))));
    }

    private static int[] Ids(JsonElement array) => array.EnumerateArray().Select(e => e.GetInt32()).ToArray();
}
