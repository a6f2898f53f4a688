using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests;

/// <summary>
/// Sampling in the engine (JetSession.SetSampling / SampleNext / DecodeSample): the same tokens as
/// the logits path with a JetSampler, per-sequence rules in one batch, and atomic cancellation.
/// </summary>
public sealed class EngineSamplingTests
{
    private static readonly JetSamplingOptions Hot = new()
    {
        Temperature = 1.3f, TopK = 0, TopP = 1.0f, MinP = 0.02f, RepeatPenalty = 1.2f, RepeatLastN = 32, Seed = 11,
    };

    private static int[] EngineLoop(JetSession session, int[] prompt, int count, int sequence, List<float>? logprobs = null)
    {
        session.Prefill(prompt, sequence, JetLogitsMode.None, default);
        var tokens = new List<int> { session.SampleNext(sequence, out float lp) };
        logprobs?.Add(lp);
        Span<int> next = stackalloc int[1];
        Span<float> nextLp = stackalloc float[1];
        while (tokens.Count < count)
        {
            session.DecodeSample([sequence], [tokens[^1]], next, nextLp);
            tokens.Add(next[0]);
            logprobs?.Add(nextLp[0]);
        }
        return tokens.ToArray();
    }

    [Fact]
    public void DecodeSampleEqualsLogitsWithAJetSampler()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int[] prompt = [5, 17, 99, 3, 42, 7, 7, 250];
        using JetSession engine = model.CreateSession(new JetSessionOptions { Context = 256 });
        engine.SetSampling(Hot);
        var logprobs = new List<float>();
        int[] got = EngineLoop(engine, prompt, 24, 0, logprobs);

        using JetSession plain = model.CreateSession(new JetSessionOptions { Context = 256 });
        using var sampler = new JetSampler(model.SamplingFor(Hot));
        foreach (int t in prompt)
            sampler.Accept(t);
        ReadOnlySpan<float> logits = plain.Prefill(prompt);
        var want = new List<int>();
        for (int step = 0; step < 24; step++)
        {
            int token = plain.Sample(sampler);
            double max = double.NegativeInfinity, sum = 0;
            foreach (float x in plain.Logits)
                max = Math.Max(max, x);
            foreach (float x in plain.Logits)
                sum += Math.Exp(x - max);
            // A tolerance, not `precision: 4` (which rounds both sides: a 1e-8 difference across
            // a rounding boundary failed it).
            Assert.Equal(plain.Logits[token] - max - Math.Log(sum), logprobs[step], 1e-4);
            want.Add(token);
            if (step < 23)
                plain.Decode(token);
        }
        Assert.Equal(want, got);
    }

    [Fact]
    public void EachSequenceOfABatchFollowsItsOwnRule()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int[] prompt = [1, 2, 3, 4, 5, 6];
        int[] Alone(JetSamplingOptions? rule)
        {
            using JetSession s = model.CreateSession(new JetSessionOptions { Context = 128 });
            s.SetSampling(rule);
            return EngineLoop(s, prompt, 16, 0);
        }

        using JetSession batch = model.CreateSession(new JetSessionOptions { Sequences = 3, Context = 128 });
        batch.SetSampling(Hot, 0);
        batch.SetSampling(Hot with { Seed = 99 }, 2);  // sequence 1: greedy (no rule set)
        var outs = new List<int>[3];
        int[] seqs = [0, 1, 2];
        int[] toks = new int[3];
        for (int i = 0; i < 3; i++)
        {
            batch.Prefill(prompt, i, JetLogitsMode.None, default);
            toks[i] = batch.SampleNext(i);
            outs[i] = [toks[i]];
        }
        int[] next = new int[3];
        for (int step = 1; step < 16; step++)
        {
            batch.DecodeSample(seqs, toks, next);
            for (int i = 0; i < 3; i++)
                outs[i].Add(toks[i] = next[i]);
        }
        Assert.Equal(Alone(Hot), outs[0]);
        Assert.Equal(Alone(null), outs[1]);
        Assert.Equal(Alone(Hot with { Seed = 99 }), outs[2]);
        Assert.NotEqual(outs[0], outs[2]);
    }

    [Fact]
    public void ACancelledStepLeavesTheSequenceAsItWas()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 128 });
        session.Prefill([1, 2, 3, 4], 0, JetLogitsMode.None, default);
        int first = session.SampleNext();
        using var cts = new CancellationTokenSource();
        cts.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => session.DecodeSample(first, 0, cts.Token));
        Assert.Equal(4, session.Position);
        session.DecodeSample(first);  // goes on as if nothing happened
        Assert.Equal(5, session.Position);
    }

    [Fact]
    public void SamplingErrorsCarryTheEnginesMessage()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 8 });
        var none = Assert.Throws<JetException>(() => session.SampleNext());
        Assert.Contains("no logits", none.Message);
        var bad = Assert.Throws<JetException>(() => session.SetSampling(new JetSamplingOptions { TopP = 0 }));
        Assert.Contains("top_p", bad.Message);
        session.Prefill([1, 2, 3, 4, 5, 6, 7, 8], 0, JetLogitsMode.None, default);
        int t = session.SampleNext();
        var full = Assert.Throws<JetException>(() => session.DecodeSample(t));
        Assert.Equal(JetStatus.ContextFull, full.Status);
    }
}
