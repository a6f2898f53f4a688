using System.Text;
using JetNative.Interop;
using Xunit;
using JetNative.Tokenization;

namespace JetNative.Tests.Tokenization;

public class StreamingDecoderTests
{
    private static readonly Lazy<JetTokenizer> Tiny = new(() => JetTokenizer.FromFolder(TokenizerTestPaths.TinyBpe));

    /// <summary>Multi-byte text: emoji (4 bytes, with a skin-tone modifier), CJK (3), combining marks, Cyrillic (2).</summary>
    public static readonly TheoryData<string> MultiByteTexts = new()
    {
        "\U0001F642\U0001F680\u2728 emoji \U0001F44D\U0001F3FD",
        "日本語のテキストと中文文本。",
        "a\u0301 e\u0308 n\u0303 combining \u0915\u094D\u0937",
        "Привет, как дела?",
        "mixed: 🙂 世界 ä ß\n",
    };

    [Fact]
    public void Append_HoldsBackPartialCharacters()
    {
        var decoder = Tiny.Value.CreateStreamingDecoder();
        // 🙂 = F0 9F 99 82 fed one byte-token at a time.
        Assert.Equal("", decoder.Append(240));
        Assert.True(decoder.HasPendingBytes);
        Assert.Equal("", decoder.Append(159));
        Assert.Equal("", decoder.Append(153));
        Assert.Equal("\U0001F642", decoder.Append(130));
        Assert.False(decoder.HasPendingBytes);
        // é = C3 A9, then "hello" completes in the same call as the pending byte.
        Assert.Equal("", decoder.Append(195));
        Assert.Equal("\u00e9", decoder.Append(169));
        Assert.Equal("hello", decoder.Append(261));
        Assert.Equal("", decoder.Flush());
    }

    [Theory]
    [MemberData(nameof(MultiByteTexts))]
    public void ByteByByte_EqualsFullDecode_WithoutReplacementChars(string text)
    {
        // Tiny has no merges for these texts, so every byte is its own token: the worst case.
        var ids = Tiny.Value.Encode(text);
        Assert.Equal(Encoding.UTF8.GetByteCount(text.Normalize(NormalizationForm.FormC)), ids.Count);
        AssertStreamsLikeFullDecode(Tiny.Value, ids);
    }

    [Fact]
    public void Flush_EmitsUnfinishedBytesAsReplacementAndResets()
    {
        var decoder = Tiny.Value.CreateStreamingDecoder();
        Assert.Equal("", decoder.Append(240));
        Assert.Equal("", decoder.Append(159));
        Assert.Equal("\uFFFD", decoder.Flush());
        Assert.False(decoder.HasPendingBytes);
        Assert.Equal("hello", decoder.Append(261));
        // The same as the full decode of those ids.
        Assert.Equal("\uFFFD", Tiny.Value.Decode([240, 159]));
    }

    [Fact]
    public void InvalidBytesInTheMiddleMatchFullDecode()
    {
        int[] ids = [97, 169, 240, 159, 98, 195, 169];
        var decoder = Tiny.Value.CreateStreamingDecoder();
        var text = new StringBuilder();
        foreach (int id in ids)
            text.Append(decoder.Append(id));
        text.Append(decoder.Flush());
        Assert.Equal(Tiny.Value.Decode(ids), text.ToString());
    }

    [Fact]
    public void SkipSpecial_DropsSpecialTokensOnly()
    {
        var decoder = Tiny.Value.CreateStreamingDecoder(skipSpecial: true);
        Assert.Equal("", decoder.Append(266));
        Assert.Equal("hello", decoder.Append(261));
        Assert.Equal("<tool_call>", decoder.Append(268));
        Assert.Equal("", decoder.Append(267));
    }

    [Fact]
    public void Append_UnknownIdThrows()
    {
        var decoder = Tiny.Value.CreateStreamingDecoder();
        var e = Assert.Throws<JetException>(() => decoder.Append(100_000));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
    }

    [Theory]
    [MemberData(nameof(MultiByteTexts))]
    public void Qwen_EqualsFullDecode_WithoutReplacementChars(string text)
    {
        var tokenizer = SharedQwenTokenizer.Get();
        AssertStreamsLikeFullDecode(tokenizer, tokenizer.Encode(text));
    }

    [Fact]
    public void Qwen_GoldenStringsStreamLikeFullDecode()
    {
        var tokenizer = SharedQwenTokenizer.Get();
        foreach (var golden in TokenizerGolden.Load().Strings)
            AssertStreamsLikeFullDecode(tokenizer, golden.JetIds);
    }

    internal static void AssertStreamsLikeFullDecode(JetTokenizer tokenizer, IReadOnlyList<int> ids)
    {
        var decoder = tokenizer.CreateStreamingDecoder();
        var text = new StringBuilder();
        foreach (int id in ids)
        {
            string piece = decoder.Append(id);
            Assert.DoesNotContain('\uFFFD', piece);
            if (piece.Length > 0)
            {
                Assert.False(char.IsHighSurrogate(piece[^1]), "a piece ends in half a surrogate pair");
                Assert.False(char.IsLowSurrogate(piece[0]), "a piece starts with half a surrogate pair");
            }
            text.Append(piece);
        }
        Assert.False(decoder.HasPendingBytes);
        text.Append(decoder.Flush());
        Assert.Equal(tokenizer.Decode(ids), text.ToString());
    }
}
