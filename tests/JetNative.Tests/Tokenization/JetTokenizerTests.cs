using JetNative.Interop;
using Xunit;
using JetNative.Tokenization;

namespace JetNative.Tests.Tokenization;

/// <summary>JetTokenizer on the hand-made tiny-bpe fixture (Data/README.md): ids worked out by hand.</summary>
public class JetTokenizerTests
{
    private static readonly Lazy<JetTokenizer> Tiny = new(() => JetTokenizer.FromFolder(TokenizerTestPaths.TinyBpe));

    [Theory]
    // h e l l o: "l l" (rank 1), then "e ll" (2), "h ell" (4), "hell o" (5).
    [InlineData("hello", new[] { 261 })]
    // t h e: "h e" (3); no merge "t he".
    [InlineData("the", new[] { 116, 259 })]
    // " the" is one pre-token: "Ġ t" (0), "h e" (3), "Ġt he" (6).
    [InlineData(" the", new[] { 262 })]
    // "hello" and " the" are split apart first, so no merge crosses the boundary.
    [InlineData("hello the", new[] { 261, 262 })]
    // Qwen's regex: "\s+(?!\S)" takes the first space alone, then " hello" is a word with a leading
    // space; "Ġ h" has no merge, so Ġ (32) stays before hello.
    [InlineData("  hello", new[] { 32, 32, 261 })]
    // Digits are split one by one by Qwen's regex ("\p{N}"), so the merge "1 2" never applies.
    [InlineData("12", new[] { 49, 50 })]
    // é = C3 A9 = "Ã©" (263); the NFD form e + U+0301 is NFC-normalised to é first.
    [InlineData("\u00e9", new[] { 263 })]
    [InlineData("e\u0301", new[] { 263 })]
    // A newline (byte 10) between words is its own pre-token.
    [InlineData("he\nhe", new[] { 259, 10, 259 })]
    // 🙂 = F0 9F 99 82: no merges, one id per byte.
    [InlineData("\U0001F642", new[] { 240, 159, 153, 130 })]
    [InlineData("", new int[0])]
    public void Encode_MatchesHandDerivedIds(string text, int[] expected)
    {
        Assert.Equal(expected, Tiny.Value.Encode(text));
    }

    [Fact]
    public void Encode_AddedTokensInTextMapToTheirIds()
    {
        // <|im_start|> user \n hi <|im_end|>: "user" has no merges; "\n" is its own pre-token.
        Assert.Equal(new[] { 266, 117, 115, 101, 114, 10, 104, 105, 267 },
            Tiny.Value.Encode("<|im_start|>user\nhi<|im_end|>"));
        Assert.Equal(new[] { 267, 267, 268, 265 }, Tiny.Value.Encode("<|im_end|><|im_end|><tool_call><|endoftext|>"));
        // A partial marker is ordinary text: < | i m _ e n d | (no merges), then "hello".
        Assert.Equal(new[] { 60, 124, 105, 109, 95, 101, 110, 100, 124, 261 }, Tiny.Value.Encode("<|im_end|hello"));
    }

    [Fact]
    public void Encode_AddSpecialTokensFollowsTokenizerConfig()
    {
        // add_bos_token and add_eos_token are false, as for Qwen2.5: nothing is added.
        Assert.Equal(new[] { 261 }, Tiny.Value.Encode("hello", addSpecialTokens: true));
    }

    [Fact]
    public void Encode_AddSpecialTokensAddsBosAndEosWhenConfigAsks()
    {
        using var folder = new TempTokenizerFolder(TokenizerTestPaths.TinyBpe);
        folder.Write("tokenizer_config.json",
            """{"bos_token": "<|im_start|>", "eos_token": {"content": "<|im_end|>"}, "add_bos_token": true, "add_eos_token": true}""");
        var tokenizer = JetTokenizer.FromFolder(folder.Path);
        Assert.Equal(new[] { 266, 261, 267 }, tokenizer.Encode("hello", addSpecialTokens: true));
        Assert.Equal(new[] { 261 }, tokenizer.Encode("hello"));
        Assert.Equal(266, tokenizer.BosTokenId);
        Assert.Equal(267, tokenizer.EosTokenId);
    }

    [Fact]
    public void Decode_JoinsTokenBytes()
    {
        Assert.Equal("hello the", Tiny.Value.Decode([261, 262]));
        Assert.Equal("\u00e9", Tiny.Value.Decode([263]));
        Assert.Equal("\u00e9", Tiny.Value.Decode([195, 169]));
        Assert.Equal("\U0001F642", Tiny.Value.Decode([240, 159, 153, 130]));
        Assert.Equal("", Tiny.Value.Decode([]));
    }

    [Fact]
    public void Decode_InvalidUtf8BecomesReplacementCharacter()
    {
        // A lone continuation byte and a truncated 4-byte sequence, as Hugging Face's errors="replace".
        Assert.Equal("a\uFFFDb", Tiny.Value.Decode([97, 169, 98]));
        Assert.Equal("\uFFFD", Tiny.Value.Decode([240, 159, 153]));
    }

    [Fact]
    public void Decode_SkipSpecialDropsOnlySpecialTokens()
    {
        int[] ids = [266, 104, 105, 268, 267, 265];
        Assert.Equal("<|im_start|>hi<tool_call><|im_end|><|endoftext|>", Tiny.Value.Decode(ids));
        Assert.Equal("hi<tool_call>", Tiny.Value.Decode(ids, skipSpecial: true));
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(269)]
    [InlineData(int.MaxValue)]
    public void Decode_UnknownIdThrowsNamingTheId(int id)
    {
        var e = Assert.Throws<JetException>(() => Tiny.Value.Decode([261, id]));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
        Assert.Contains($"token id {id} is not in the vocabulary", e.Message);
    }

    [Theory]
    [InlineData("hello the world")]
    [InlineData("  two  spaces \t\ttabs\r\nand lines\n\n")]
    [InlineData("naïve café 日本語 🙂🚀 👍🏽 Привет")]
    [InlineData("<|im_start|>user\nhi<|im_end|>\n<tool_call>{\"a\": 12}</tool_call>")]
    public void EncodeThenDecode_IsLossless(string text)
    {
        Assert.Equal(text, Tiny.Value.Decode(Tiny.Value.Encode(text)));
    }

    [Fact]
    public void Properties_ComeFromTheConfigFiles()
    {
        var t = Tiny.Value;
        Assert.Equal(269, t.VocabSize);
        Assert.Equal(265, t.BosTokenId); // tokenizer_config has no bos: generation_config's
        Assert.Equal(265, t.EosTokenId);
        Assert.Equal(new[] { 265, 267 }, t.StopTokenIds);
        Assert.StartsWith("{% for message in messages %}", t.ChatTemplate);
        Assert.Equal(262, t.TokenToId("Ġthe"));
        Assert.Equal(266, t.TokenToId("<|im_start|>"));
        Assert.Null(t.TokenToId("nope"));
    }

    [Fact]
    public void Properties_WithoutOptionalFiles()
    {
        using var folder = new TempTokenizerFolder();
        File.Copy(Path.Combine(TokenizerTestPaths.TinyBpe, "tokenizer.json"), folder.File("tokenizer.json"));
        var t = JetTokenizer.FromFolder(folder.Path);
        Assert.Null(t.BosTokenId);
        Assert.Null(t.EosTokenId);
        Assert.Equal(new[] { 267 }, t.StopTokenIds);
        Assert.Null(t.ChatTemplate);
        Assert.Equal(new[] { 261 }, t.Encode("hello"));
        // No template: plain ChatML.
        Assert.Equal("<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n", t.ApplyChatTemplate([("user", "hi")]));
    }

    [Fact]
    public void Properties_GenerationConfigEosListAddsStopTokens()
    {
        using var folder = new TempTokenizerFolder(TokenizerTestPaths.TinyBpe);
        folder.Write("generation_config.json", """{"bos_token_id": 265, "eos_token_id": [268, 265]}""");
        var t = JetTokenizer.FromFolder(folder.Path);
        Assert.Equal(265, t.EosTokenId); // tokenizer_config's eos_token wins
        Assert.Equal(new[] { 265, 268, 267 }, t.StopTokenIds);
    }

    [Fact]
    public void ChatTemplateJinjaFileIsUsedWhenConfigHasNone()
    {
        using var folder = new TempTokenizerFolder(TokenizerTestPaths.TinyBpe);
        folder.Write("tokenizer_config.json", """{"eos_token": "<|endoftext|>"}""");
        folder.Write("chat_template.jinja",
            "{%- if messages[0]['role'] != 'system' %}{{- '<|im_start|>system\\nBe brief.<|im_end|>\\n' }}{%- endif %}" +
            "{%- for m in messages %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endfor %}");
        var t = JetTokenizer.FromFolder(folder.Path);
        Assert.Contains("Be brief.", t.ChatTemplate);
        Assert.Equal("<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n",
            t.ApplyChatTemplate([("user", "hi")], addGenerationPrompt: false));
    }

    [Fact]
    public void ApplyChatTemplate_NonChatMlTemplateThrowsNotSupported()
    {
        using var folder = new TempTokenizerFolder(TokenizerTestPaths.TinyBpe);
        folder.Write("tokenizer_config.json", """{"chat_template": "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"}""");
        var t = JetTokenizer.FromFolder(folder.Path);
        Assert.Equal(new[] { 261 }, t.Encode("hello")); // encoding still works
        var e = Assert.Throws<JetException>(() => t.ApplyChatTemplate([("user", "hi")]));
        Assert.Equal(JetStatus.Unsupported, e.Status);
        Assert.Contains("not ChatML", e.Message);
    }

    [Fact]
    public void Encode_IsThreadSafe()
    {
        string[] texts = Enumerable.Range(0, 64)
            .Select(i => $"hello the {i} {new string('l', i % 7)}o é 🙂 <|im_end|> word{i % 5}").ToArray();
        var fresh = JetTokenizer.FromFolder(TokenizerTestPaths.TinyBpe); // empty word cache
        var results = new IReadOnlyList<int>[texts.Length * 8];
        Parallel.For(0, results.Length, i => results[i] = fresh.Encode(texts[i % texts.Length]));
        for (int i = 0; i < results.Length; i++)
            Assert.Equal(Tiny.Value.Encode(texts[i % texts.Length]), results[i]);
    }

    [Fact]
    public void InnerTokenizer_IsTheSameBpe()
    {
        Assert.Equal(new[] { 261, 262 }, Tiny.Value.InnerTokenizer.EncodeToIds("hello the"));
    }
}
