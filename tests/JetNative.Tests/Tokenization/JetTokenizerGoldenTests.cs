using System.Diagnostics;
using System.Text;
using Xunit;
using JetNative.Tokenization;

namespace JetNative.Tests.Tokenization;

/// <summary>JetTokenizer against Hugging Face's ids for Jet-Nemotron's Qwen2.5 tokenizer (../shared).</summary>
public class JetTokenizerGoldenTests(ITestOutputHelper output)
{
    [Fact]
    public void EveryGoldenString_EncodesToJetIds()
    {
        var tokenizer = SharedQwenTokenizer.Get();
        var golden = TokenizerGolden.Load();
        Assert.Equal(30, golden.Strings.Count);
        var failures = golden.Strings
            .Where(g => !tokenizer.Encode(g.Text).SequenceEqual(g.JetIds))
            .Select(g => $"{Escape(g.Text)}: expected [{string.Join(",", g.JetIds)}] got [{string.Join(",", tokenizer.Encode(g.Text))}]")
            .ToList();
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void EveryGoldenString_InnerTokenizerAgrees()
    {
        // The Microsoft.ML.Tokenizers pipeline exposed as InnerTokenizer (RegexPreTokenizer with the
        // added tokens) gives the same ids as Encode, which splits and caches words itself.
        var tokenizer = SharedQwenTokenizer.Get();
        foreach (var g in TokenizerGolden.Load().Strings)
            Assert.Equal(g.JetIds, tokenizer.InnerTokenizer.EncodeToIds(g.Text));
    }

    [Fact]
    public void EveryGoldenString_DecodesBackLosslessly()
    {
        var tokenizer = SharedQwenTokenizer.Get();
        foreach (var g in TokenizerGolden.Load().Strings)
        {
            // Lossless up to the NFC normalisation the tokenizer applies (only the NFD string changes).
            Assert.Equal(g.Text.Normalize(NormalizationForm.FormC), tokenizer.Decode(g.JetIds));
        }
    }

    [Fact]
    public void ChatGolden_TextAndIds()
    {
        var tokenizer = SharedQwenTokenizer.Get();
        var chat = TokenizerGolden.Load().Chat;
        string text = tokenizer.ApplyChatTemplate(chat.Messages, chat.AddGenerationPrompt);
        Assert.Equal(chat.Text, text);
        Assert.Equal(chat.JetIds, tokenizer.Encode(text));
        Assert.Equal(chat.Text, tokenizer.Decode(chat.JetIds));
    }

    [Fact]
    public void ChatTemplate_AddsQwenDefaultSystemMessage()
    {
        var tokenizer = SharedQwenTokenizer.Get();
        // Qwen2.5's template (chat_template.jinja) adds this system turn when there is none.
        Assert.Equal(
            "<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n",
            tokenizer.ApplyChatTemplate([("user", "Hi")]));
        Assert.Equal(
            "<|im_start|>system\nBe terse.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n",
            tokenizer.ApplyChatTemplate([("system", "Be terse."), ("user", "Hi")], addGenerationPrompt: false));
    }

    [Fact]
    public void SpecialTokenIdsAndVocab()
    {
        var tokenizer = SharedQwenTokenizer.Get();
        Assert.Equal(151665, tokenizer.VocabSize);
        Assert.Equal(151643, tokenizer.BosTokenId);
        Assert.Equal(151643, tokenizer.EosTokenId);
        Assert.Equal(new[] { 151643, 151645 }, tokenizer.StopTokenIds);
        Assert.Equal(new[] { 151644, 151645 }, tokenizer.Encode("<|im_start|><|im_end|>"));
        Assert.Equal("user", tokenizer.Decode([151644, 872, 151645], skipSpecial: true));
    }

    [Fact]
    public void TinyShakespeare_RoundTripsAndReportsThroughput()
    {
        var tokenizer = SharedQwenTokenizer.Get();
        string path = Path.Combine(TokenizerTestPaths.Shared, "data", "tinyshakespeare.txt");
        if (!File.Exists(path))
            Assert.Skip($"needs {path} (../shared beside the checkout)");
        string text = File.ReadAllText(path);
        double megabytes = Encoding.UTF8.GetByteCount(text) / 1e6;

        var ids = tokenizer.Encode(text); // warm-up (also fills the BPE word cache)
        Assert.Equal(text, tokenizer.Decode(ids));

        var watch = Stopwatch.StartNew();
        const int Runs = 3;
        for (int i = 0; i < Runs; i++)
            ids = tokenizer.Encode(text);
        double encodeSeconds = watch.Elapsed.TotalSeconds / Runs;
        watch.Restart();
        string decoded = tokenizer.Decode(ids);
        double decodeSeconds = watch.Elapsed.TotalSeconds;
        Assert.Equal(text, decoded);
        output.WriteLine($"tinyshakespeare: {megabytes:F2} MB -> {ids.Count} tokens; " +
                         $"encode {megabytes / encodeSeconds:F1} MB/s, decode {megabytes / decodeSeconds:F1} MB/s");
    }

    private static string Escape(string s) => s.Replace("\n", "\\n").Replace("\r", "\\r").Replace("\t", "\\t");
}
