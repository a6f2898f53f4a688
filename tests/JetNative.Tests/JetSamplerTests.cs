using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests;

public sealed class JetSamplerTests
{
    [Fact]
    public void ManagedDefaultsAreTheEnginesAndLlamaCpps()
    {
        var managed = new JetSamplingOptions();
        // The same filters; the seed differs on purpose: the engine's default is 0, the library's is
        // null (a random seed per generation), so two unseeded calls do not give the same text.
        Assert.Equal(JetSampler.NativeDefaults() with { Seed = null }, managed);
        Assert.Null(managed.Seed);
        Assert.Equal((0.8f, 40, 0.95f, 0.05f, 1.0f, 64), (managed.Temperature, managed.TopK, managed.TopP, managed.MinP,
            managed.RepeatPenalty, managed.RepeatLastN));
    }

    [Fact]
    public void GreedyIsArgmax()
    {
        using var sampler = new JetSampler(JetSamplingOptions.Greedy);
        Assert.Equal(2, sampler.Sample([0.1f, -3f, 7f, 6.9f]));
    }

    [Fact]
    public void TheSeedDecides()
    {
        float[] logits = Enumerable.Range(0, 50).Select(i => (float)Math.Sin(i)).ToArray();
        var options = new JetSamplingOptions { Temperature = 1.5f, TopK = 0, TopP = 1, MinP = 0, Seed = 9 };
        int[] Draw(JetSamplingOptions o)
        {
            using var s = new JetSampler(o);
            return Enumerable.Range(0, 30).Select(_ => s.Sample(logits)).ToArray();
        }
        Assert.Equal(Draw(options), Draw(options));
        Assert.NotEqual(Draw(options), Draw(options with { Seed = 10 }));
        using var sampler = new JetSampler(options);
        int[] first = Enumerable.Range(0, 10).Select(_ => sampler.Sample(logits)).ToArray();
        sampler.Reset();
        Assert.Equal(first, Enumerable.Range(0, 10).Select(_ => sampler.Sample(logits)).ToArray());
    }

    [Fact]
    public void RepeatPenaltyAvoidsTheHistory()
    {
        using var sampler = new JetSampler(JetSamplingOptions.Greedy with { RepeatPenalty = 10f });
        float[] logits = [5f, 4f, 1f];
        Assert.Equal(0, sampler.Sample(logits));
        sampler.Accept(0);
        Assert.Equal(1, sampler.Sample(logits));
    }

    [Fact]
    public void VocabLimitNeverPicksPaddingIds()
    {
        float[] logits = [1f, 3f, 2f, 0.5f, 9f, 8f];  // ids 4 and 5 stand for padding rows
        using var greedy = new JetSampler(JetSamplingOptions.Greedy with { VocabLimit = 4 });
        Assert.Equal(1, greedy.Sample(logits));
        using var sampled = new JetSampler(new JetSamplingOptions { Temperature = 1, TopK = 0, TopP = 1, MinP = 0, VocabLimit = 4 });
        int[] drawn = Enumerable.Range(0, 500).Select(_ => sampled.Sample(logits)).ToArray();
        Assert.All(drawn, t => Assert.InRange(t, 0, 3));
        using var unlimited = new JetSampler(JetSamplingOptions.Greedy);
        Assert.Equal(4, unlimited.Sample(logits));
        var e = Assert.Throws<JetException>(() => new JetSampler(new JetSamplingOptions { VocabLimit = -1 }));
        Assert.Contains("vocab_limit", e.NativeMessage);
    }

    [Fact]
    public void SamplingIsLimitedToTheTokenizerOnlyWhenTheVocabularyIsPadded()
    {
        var o = new JetSamplingOptions();
        Assert.Equal(151_665, JetModel.LimitToTokenizer(o, 151_936, 151_665).VocabLimit);  // Qwen's padding
        Assert.Equal(0, JetModel.LimitToTokenizer(o, 4096, 4096).VocabLimit);
        Assert.Equal(0, JetModel.LimitToTokenizer(o, 4096, null).VocabLimit);
        Assert.Equal(100, JetModel.LimitToTokenizer(o with { VocabLimit = 100 }, 151_936, 151_665).VocabLimit);
        JetModel demo = TestModels.Get("demo");  // tokenizer as large as the vocabulary
        Assert.Equal(new JetSamplingOptions(), demo.SamplingFor());
    }

    [Fact]
    public void BadOptionsAndInputGiveTheEnginesMessage()
    {
        var e = Assert.Throws<JetException>(() => new JetSampler(new JetSamplingOptions { TopP = float.NaN }));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
        Assert.Contains("top_p", e.NativeMessage);
        using var sampler = new JetSampler();
        Assert.Throws<ArgumentException>(() => sampler.Sample([]));
        e = Assert.Throws<JetException>(() => sampler.Accept(-5));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
    }
}
