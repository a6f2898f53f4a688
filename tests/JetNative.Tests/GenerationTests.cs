using JetNative.Tests.Support;
using Xunit;
using JetNative.Tokenization;

namespace JetNative.Tests;

/// <summary>Streaming, cancellation and concurrency of generation.</summary>
public sealed class GenerationTests
{
    private static readonly int[] Prompt = [3, 14, 15, 92, 65, 35, 89, 79];

    private static JetGenerationOptions Sampled(int maxTokens, ulong seed = 42) => new()
    {
        Sampling = new JetSamplingOptions { Temperature = 0.9f, Seed = seed },
        MaxTokens = maxTokens,
        StopAtEndOfSequence = false,
    };

    [Fact]
    public async Task StreamedTokensEqualTheSynchronousOnes()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int[] expected;
        using (JetSession s = model.CreateSession(new JetSessionOptions { Context = 128 }))
            expected = s.GenerateTokens(Prompt, Sampled(20));
        Assert.Equal(20, expected.Length);
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 128 });
        var streamed = new List<int>();
        await foreach (int t in session.GenerateTokensAsync(Prompt, Sampled(20), 0, TestContext.Current.CancellationToken))
            streamed.Add(t);
        Assert.Equal(expected, streamed);
    }

    [Fact]
    public void SameSeedSameTokensOtherSeedOtherTokens()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int[] Run(ulong seed)
        {
            using JetSession s = model.CreateSession(new JetSessionOptions { Context = 128 });
            return s.GenerateTokens(Prompt, Sampled(24, seed));
        }
        Assert.Equal(Run(1), Run(1));
        Assert.NotEqual(Run(1), Run(2));
    }

    [Fact]
    public void TheManagedLoopAndTheEngineLoopAgree()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int[] engine;
        using (JetSession s = model.CreateSession(new JetSessionOptions { Context = 128 }))
            engine = s.GenerateTokens(Prompt, Sampled(16));
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 128 });
        using var sampler = new JetSampler(Sampled(16).Sampling);
        sampler.Accept(Prompt);
        session.Prefill(Prompt);
        var managed = new List<int>();
        for (int i = 0; i < 16; i++)
        {
            int t = session.Sample(sampler);
            managed.Add(t);
            session.Decode(t);
        }
        Assert.Equal(engine, managed);
    }

    [Fact]
    public void StopTokensEndTheGenerationAndAreReported()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int[] free;
        using (JetSession s = model.CreateSession(new JetSessionOptions { Context = 128 }))
            free = s.GenerateTokens(Prompt, Sampled(20));
        int stop = free[5];
        int firstStop = Array.IndexOf(free, stop);
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 128 });
        int[] stopped = session.GenerateTokens(Prompt, Sampled(20) with { StopTokens = [stop] });
        Assert.Equal(free.Take(firstStop + 1), stopped);
    }

    [Fact]
    public async Task BreakingOutOfTheStreamStopsTheEngine()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 256 });
        int taken = 0;
        await foreach (int _ in session.GenerateTokensAsync(Prompt, Sampled(200), 0, TestContext.Current.CancellationToken))
        {
            if (++taken == 3)
                break;
        }
        // The engine ran at most the stream buffer (+ the token in hand) ahead, and the session is free again.
        Assert.InRange(session.Position, Prompt.Length + 3, Prompt.Length + 3 + JetSession.StreamBuffer + 2);
        session.Reset();
        Assert.Equal(0, session.Position);
    }

    [Fact]
    public async Task CancellationMidGenerationThrowsAndLeavesTheSessionUsable()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 2048 });
        using var cts = new CancellationTokenSource();
        int received = 0;
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (int _ in session.GenerateTokensAsync(Prompt, Sampled(2000), 0, cts.Token))
            {
                if (++received == 5)
                    cts.Cancel();
            }
        });
        Assert.InRange(received, 5, 1000);
        Assert.True(session.Position < Prompt.Length + 2000);
        // The cancel flag does not leak into the next call.
        session.Reset();
        Assert.Equal(model.Info.VocabSize, session.Prefill(Prompt, 0, TestContext.Current.CancellationToken).Length);
    }

    [Fact]
    public void AnAlreadyCancelledTokenThrowsBeforeTouchingTheSession()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 64 });
        Assert.Throws<OperationCanceledException>(() => session.Prefill(Prompt, 0, new CancellationToken(true)));
        Assert.Equal(0, session.Position);
    }

    [Fact]
    public void CancelFromAnotherThreadStopsALongPrefill()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 2048, PrefillChunk = 8 });
        using var cts = new CancellationTokenSource();
        session.PrefillProgress = new SyncProgress(p =>
        {
            if (p > 0.1f)
                cts.Cancel();
        });
        int[] prompt = Enumerable.Range(0, 2000).Select(i => i % 700).ToArray();
        var e = Assert.ThrowsAny<OperationCanceledException>(() => session.Prefill(prompt, 0, cts.Token));
        Assert.Equal(cts.Token, e.CancellationToken);
        Assert.Equal(0, session.Position);  // a cancelled prefill resets the sequence
    }

    [Fact]
    public async Task TwoSessionsOnOneModelRunInParallelWithTheSequentialResults()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int[] Run(int[] prompt, ulong seed)
        {
            using JetSession s = model.CreateSession(new JetSessionOptions { Context = 256 });
            return s.GenerateTokens(prompt, Sampled(32, seed));
        }
        int[] p1 = [1, 2, 3, 4, 5], p2 = [700, 600, 500];
        int[] seq1 = Run(p1, 5), seq2 = Run(p2, 6);
        Task<int[]> t1 = Task.Run(() => Run(p1, 5), TestContext.Current.CancellationToken);
        Task<int[]> t2 = Task.Run(() => Run(p2, 6), TestContext.Current.CancellationToken);
        int[][] results = await Task.WhenAll(t1, t2);
        Assert.Equal(seq1, results[0]);
        Assert.Equal(seq2, results[1]);
    }

    [Fact]
    public async Task ASessionRefusesASecondConcurrentCall()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 2048 });
        await using var stream = session.GenerateTokensAsync(Prompt, Sampled(1500), 0, TestContext.Current.CancellationToken)
            .GetAsyncEnumerator(TestContext.Current.CancellationToken);
        Assert.True(await stream.MoveNextAsync());
        var e = Assert.Throws<InvalidOperationException>(() => session.Prefill([1]));
        Assert.Contains("one call at a time", e.Message);
    }

    [Theory]
    [InlineData("Hello world. END here", new[] { "END" }, "Hello world. ", true)]
    [InlineData("abc", new[] { "cd" }, "ab", false)]      // "c" could begin "cd": held back
    [InlineData("abc", new string[0], "abc", false)]
    [InlineData("x<stop>y<st", new[] { "<st", "<stop>" }, "x", true)]
    public void StopStringsCutTheText(string text, string[] stops, string emitted, bool stopped)
    {
        string pending = text;
        (string emit, bool isStopped) = JetGeneration.SplitAtStop(ref pending, stops, final: false);
        Assert.Equal(emitted, emit);
        Assert.Equal(stopped, isStopped);
        if (!stopped)
            Assert.Equal(text, emit + pending);
    }

    [Fact]
    public async Task GenerateAsyncStreamsTheTextOfTheTokens()
    {
        JetModel model = TestModels.Get("demo");
        JetTokenizer tokenizer = model.Tokenizer!;
        var options = Sampled(24) with { StopAtEndOfSequence = false };
        int[] ids;
        using (JetSession s = model.CreateSession(new JetSessionOptions { Context = 256 }))
            ids = s.GenerateTokens(tokenizer.Encode("Once upon a time").ToArray(), options);
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 256 });
        var pieces = new List<string>();
        await foreach (string piece in session.GenerateAsync("Once upon a time", options, TestContext.Current.CancellationToken))
            pieces.Add(piece);
        Assert.Equal(tokenizer.Decode(ids, skipSpecial: true), string.Concat(pieces));
        Assert.True(pieces.Count > 1);
    }

    [Fact]
    public async Task GenerateAsyncStopsAtAStopString()
    {
        JetModel model = TestModels.Get("demo");
        var options = Sampled(40) with { StopAtEndOfSequence = false };
        string full;
        using (JetSession s = model.CreateSession(new JetSessionOptions { Context = 256 }))
            full = string.Concat(await s.GenerateAsync("The cat", options, TestContext.Current.CancellationToken).ToListAsync());
        Assert.True(full.Length > 6, $"generated only '{full}'");
        string stop = full.Substring(full.Length / 2, 3);
        string expected = full[..full.IndexOf(stop, StringComparison.Ordinal)];
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 256 });
        string cut = string.Concat(await session.GenerateAsync("The cat", options with { StopStrings = [stop] },
            TestContext.Current.CancellationToken).ToListAsync());
        Assert.Equal(expected, cut);
    }

    [Fact]
    public async Task GenerateAsyncNeedsATokenizer()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 64 });
        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
        {
            await foreach (string _ in session.GenerateAsync("hi", null, TestContext.Current.CancellationToken)) { }
        });
        Assert.Contains("no tokenizer", e.Message);
    }
}
