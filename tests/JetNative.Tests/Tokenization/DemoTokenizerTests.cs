using System.Text;
using System.Text.Json;
using Xunit;
using JetNative.Tokenization;

namespace JetNative.Tests.Tokenization;

/// <summary>
/// The demo model's own tokenizer (models/jetnative-demo, trained with Hugging Face tokenizers)
/// against the token counts and first ids its eval.json recorded with Hugging Face.
/// </summary>
public class DemoTokenizerTests
{
    private static string DemoFolder => Path.Combine(TokenizerTestPaths.RepoRoot, "models", "jetnative-demo");

    [Fact]
    public void ValidationSplit_MatchesEvalJson()
    {
        string evalPath = Path.Combine(DemoFolder, "eval.json");
        string textPath = Path.Combine(TokenizerTestPaths.Shared, "data", "tinyshakespeare.txt");
        if (!File.Exists(Path.Combine(DemoFolder, "tokenizer.json")) || !File.Exists(evalPath))
            Assert.Skip($"needs the demo model's tokenizer.json and eval.json in {DemoFolder}");
        if (!File.Exists(textPath))
            Assert.Skip($"needs {textPath} (../shared beside the checkout)");

        using var eval = JsonDocument.Parse(File.ReadAllBytes(evalPath));
        var root = eval.RootElement;
        int start = root.GetProperty("byte_start").GetInt32(), end = root.GetProperty("byte_end").GetInt32();
        int[] firstIds = root.GetProperty("first_token_ids").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        byte[] bytes = File.ReadAllBytes(textPath);
        string text = Encoding.UTF8.GetString(bytes, start, end - start);

        var tokenizer = JetTokenizer.FromFolder(DemoFolder);
        var ids = tokenizer.Encode(text);
        Assert.Equal(root.GetProperty("num_tokens").GetInt32(), ids.Count);
        Assert.Equal(firstIds, ids.Take(firstIds.Length));
        Assert.Equal(text, tokenizer.Decode(ids));
        Assert.Equal(4096, tokenizer.VocabSize);
        Assert.Equal(new[] { 4093, 4095 }, tokenizer.StopTokenIds);
    }
}
