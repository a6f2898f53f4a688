using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests;

/// <summary>Prefill and decode against the goldens of the official code.</summary>
public sealed class JetSessionTests
{
    private static float MaxAbs(ReadOnlySpan<float> v)
    {
        float m = 0;
        foreach (float x in v)
            m = Math.Max(m, Math.Abs(x));
        return m;
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++)
            if (v[i] > v[best])
                best = i;
        return best;
    }

    private static void AssertClose(ReadOnlySpan<float> golden, ReadOnlySpan<float> actual, string what)
    {
        Assert.Equal(golden.Length, actual.Length);
        float tolerance = 1e-4f * MaxAbs(golden);
        float worst = 0;
        int at = -1;
        for (int i = 0; i < golden.Length; i++)
        {
            float d = Math.Abs(golden[i] - actual[i]);
            if (!(d <= worst))
            {
                worst = d;
                at = i;
            }
        }
        Assert.True(worst <= tolerance, $"{what}: max |diff| {worst} at {at} exceeds {tolerance} (1e-4 of max |logit|)");
    }

    [Theory]
    [MemberData(nameof(TestModels.GoldenNames), MemberType = typeof(TestModels))]
    public void PrefillLogitsMatchTheGolden(string name)
    {
        JetModel model = TestModels.Get(name);
        var golden = new GoldenFile(Path.Combine(model.Folder!, "golden.safetensors"));
        for (int i = 0; i < 2; i++)
        {
            int[] ids = golden.Ids($"input_ids.{i}");
            float[] expected = golden.Floats($"logits.{i}");
            using JetSession session = model.CreateSession(new JetSessionOptions { Context = 512, PrefillChunk = 64 });
            float[] all = session.PrefillAllLogits(ids);
            AssertClose(expected, all, $"{name} logits.{i}");
            Assert.Equal(ids.Length, session.Position);
            // The last row is what Prefill (last-token mode) returns.
            using JetSession again = model.CreateSession(new JetSessionOptions { Context = 512 });
            AssertClose(expected.AsSpan(expected.Length - model.Info.VocabSize), again.Prefill(ids), $"{name} last logits.{i}");
        }
    }

    [Theory]
    [MemberData(nameof(TestModels.GoldenNames), MemberType = typeof(TestModels))]
    public void GreedyDecodeMatchesTheGolden(string name)
    {
        JetModel model = TestModels.Get(name);
        var golden = new GoldenFile(Path.Combine(model.Folder!, "golden.safetensors"));
        int vocab = model.Info.VocabSize;
        for (int i = 0; i < 2; i++)
        {
            int[] ids = golden.Ids($"input_ids.{i}");
            int[] expectedIds = golden.Ids($"decode_ids.{i}");
            float[] expectedLogits = golden.Floats($"decode_logits.{i}");
            using JetSession session = model.CreateSession(new JetSessionOptions { Context = 512 });
            int next = ArgMax(session.Prefill(ids));
            var produced = new List<int>();
            for (int step = 0; step < expectedIds.Length; step++)
            {
                produced.Add(next);
                ReadOnlySpan<float> logits = session.Decode(next);
                AssertClose(expectedLogits.AsSpan(step * vocab, vocab), logits, $"{name} decode_logits.{i}[{step}]");
                next = ArgMax(logits);
            }
            Assert.Equal(expectedIds, produced);
        }
    }

    [Theory]
    [MemberData(nameof(TestModels.GoldenNames), MemberType = typeof(TestModels))]
    public void EngineGenerationMatchesTheGolden(string name)
    {
        JetModel model = TestModels.Get(name);
        var golden = new GoldenFile(Path.Combine(model.Folder!, "golden.safetensors"));
        int[] ids = golden.Ids("input_ids.0");
        int[] expected = golden.Ids("decode_ids.0");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 512 });
        var options = new JetGenerationOptions
        {
            Sampling = JetSamplingOptions.Greedy, MaxTokens = expected.Length, StopAtEndOfSequence = false,
        };
        var streamed = new List<int>();
        int[] generated = session.GenerateTokens(ids, options, t => { streamed.Add(t); return true; },
            cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(expected, generated);
        Assert.Equal(expected, streamed);
        Assert.Equal(ids.Length + expected.Length, session.Position);
    }

    [Fact]
    public void BatchDecodeEqualsSingleDecodes()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int vocab = model.Info.VocabSize;
        using JetSession batch = model.CreateSession(new JetSessionOptions { Sequences = 2, Context = 64 });
        using JetSession single = model.CreateSession(new JetSessionOptions { Sequences = 2, Context = 64 });
        int[] a = [10, 11, 12, 13], b = [20, 21, 22];
        batch.Prefill(a, 0);
        batch.Prefill(b, 1);
        single.Prefill(a, 0);
        single.Prefill(b, 1);
        float[] both = batch.Decode([1, 0], [30, 40]).ToArray();
        float[] s1 = single.Decode(30, 1).ToArray();
        float[] s0 = single.Decode(40, 0).ToArray();
        AssertClose(s1, both.AsSpan(0, vocab), "row 0 (sequence 1)");
        AssertClose(s0, both.AsSpan(vocab, vocab), "row 1 (sequence 0)");
        Assert.Equal(5, batch.GetPosition(0));
        Assert.Equal(4, batch.GetPosition(1));
    }

    [Fact]
    public void PrefillProgressIsReportedChunkByChunk()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        var seen = new List<float>();
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 128, PrefillChunk = 16 });
        session.PrefillProgress = new SyncProgress(seen.Add);
        session.Prefill(Enumerable.Range(1, 64).ToArray());
        Assert.Equal([0.25f, 0.5f, 0.75f, 1f], seen);
    }

    [Fact]
    public void APrefillProgressThatThrowsFailsThePrefillWithItsException()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 128, PrefillChunk = 8 });
        session.PrefillProgress = new SyncProgress(_ => throw new TimeoutException("from progress"));
        var e = Assert.Throws<TimeoutException>(() => session.Prefill(Enumerable.Range(1, 32).ToArray()));
        Assert.Equal("from progress", e.Message);
        Assert.Equal(0, session.Position);
        session.PrefillProgress = null;
        Assert.Equal(model.Info.VocabSize, session.Prefill([1, 2]).Length);
    }

    [Fact]
    public void ContextBeyondMaxPositionEmbeddingsNeedsAllowLongContext()
    {
        var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(TestModels.TinyJetB, "config.json")))!;
        config["max_position_embeddings"] = 64;
        using JetModel model = JetModel.CreateRandom(config.ToJsonString(), 3, new JetModelOptions { Threads = 2 });
        var e = Assert.Throws<JetException>(() => model.CreateSession(new JetSessionOptions { Context = 200 }));
        Assert.Equal(JetStatus.InvalidArgument, e.Status);
        Assert.Contains("max_position_embeddings = 64", e.Message);
        Assert.Contains("allow_long_context", e.Message);

        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 200, AllowLongContext = true });
        Assert.Equal(200, session.Context);
        int[] tokens = Enumerable.Range(0, 199).Select(i => (i * 37 + 5) % model.Info.VocabSize).ToArray();
        float[] last = session.Prefill(tokens).ToArray();
        float[] next = session.Decode(7).ToArray();
        Assert.Equal(200, session.Position);
        Assert.All(last, x => Assert.True(float.IsFinite(x)));
        Assert.All(next, x => Assert.True(float.IsFinite(x)));
    }

    [Fact]
    public void PrefillWithoutLogitsThenSample()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 64 });
        session.Prefill([1, 2, 3], 0, JetLogitsMode.None, Span<float>.Empty);
        Assert.Equal(3, session.Position);
        using var sampler = new JetSampler(JetSamplingOptions.Greedy);
        Assert.Throws<InvalidOperationException>(() => session.Sample(sampler));
        int expected = ArgMax(session.Decode(4));
        Assert.Equal(expected, session.Sample(sampler));
    }
}
