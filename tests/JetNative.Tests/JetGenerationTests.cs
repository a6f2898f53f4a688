using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests;

/// <summary>
/// The per-sequence generation state (<see cref="JetGeneration"/>, fed ids by hand) and the
/// single-sequence driver over the engine (<see cref="JetSession.StartGeneration"/>,
/// <see cref="JetSession.Generate"/>): finish reasons, length limits, seeds, cancellation.
/// </summary>
public sealed class JetGenerationTests
{
    private static readonly int[] Prompt = [3, 14, 15, 92, 65, 35, 89, 79];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static JetGenerationOptions Sampled(int maxTokens, ulong? seed = 42) => new()
    {
        Sampling = new JetSamplingOptions { Temperature = 0.9f, Seed = seed },
        MaxTokens = maxTokens,
        StopAtEndOfSequence = false,
    };

    // ------------------------------------------------------------------ the state, fed by hand

    [Fact]
    public void TheStateTurnsIdsIntoTextAndStopsAtAStopStringHeldBackAcrossTokens()
    {
        JetModel model = TestModels.Get("demo");
        int[] ids = model.Tokenizer!.Encode("Hello there, friend. END of it").ToArray();
        var g = new JetGeneration(model, new JetGenerationOptions { StopStrings = ["END"], MaxTokens = 100 }, room: 100);
        var text = new System.Text.StringBuilder();
        foreach (int id in ids)
        {
            text.Append(g.Append(id));
            if (g.IsFinished)
                break;
        }
        Assert.Equal(JetFinishReason.Stop, g.FinishReason);
        Assert.Equal("Hello there, friend. ", text.ToString());
        Assert.Equal(text.ToString(), g.Text);
        Assert.True(g.Count < ids.Length);
        Assert.Throws<InvalidOperationException>(() => g.Append(ids[^1]));
    }

    [Fact]
    public void AStopTokenEndsItCountedButWithoutText()
    {
        JetModel model = TestModels.Get("demo");
        int stop = model.Tokenizer!.StopTokenIds[0];
        int[] ids = model.Tokenizer.Encode("Good night").ToArray();
        var g = new JetGeneration(model, new JetGenerationOptions(), room: 100);
        string text = string.Concat(ids.Select(id => g.Append(id, -0.5f))) + g.Append(stop, -0.1f);
        Assert.Equal("Good night", text);
        Assert.Equal(JetFinishReason.Stop, g.FinishReason);
        Assert.Equal(ids.Length + 1, g.Count);
        Assert.Equal(stop, g.LastToken);
        Assert.Equal(-0.1f, g.Logprobs[^1]);
    }

    [Fact]
    public void TheLengthLimitIsMaxTokensOrTheRoomLeftAndFlushesHeldText()
    {
        JetModel model = TestModels.Get("demo");
        int[] ids = model.Tokenizer!.Encode("abc abc abc abc").ToArray();
        Assert.Equal(5, new JetGeneration(model, new JetGenerationOptions { MaxTokens = 5 }, room: 50).MaxTokens);
        Assert.Equal(3, new JetGeneration(model, new JetGenerationOptions { MaxTokens = 5 }, room: 3).MaxTokens);
        Assert.Equal(50, new JetGeneration(model, new JetGenerationOptions { MaxTokens = -1 }, room: 50).MaxTokens);
        var none = new JetGeneration(model, new JetGenerationOptions(), room: 0);
        Assert.Equal(JetFinishReason.Length, none.FinishReason);

        // "c" could begin the stop string "cz": held back until the limit ends the generation.
        var g = new JetGeneration(model, new JetGenerationOptions { MaxTokens = ids.Length, StopStrings = ["cz"] }, room: 100);
        string text = string.Concat(ids.Select(id => g.Append(id)));
        Assert.Equal(JetFinishReason.Length, g.FinishReason);
        Assert.Equal("abc abc abc abc", text);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-2)]
    [InlineData(int.MinValue)]
    public void MaxTokensMustBePositiveOrMinusOne(int maxTokens)
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        var options = new JetGenerationOptions { MaxTokens = maxTokens };
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => new JetGeneration(model, options, room: 10));
        Assert.Contains("MaxTokens must be > 0, or -1", e.Message);
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 64 });
        Assert.Throws<ArgumentOutOfRangeException>(() => session.GenerateTokens(Prompt, options));
        Assert.Throws<ArgumentOutOfRangeException>(() => session.GenerateTokensAsync(Prompt, options));
        Assert.Equal(0, session.Position);  // refused before any work
        JetModel demo = TestModels.Get("demo");
        using JetSession text = demo.CreateSession(new JetSessionOptions { Context = 64 });
        Assert.Throws<ArgumentOutOfRangeException>(() => text.GenerateAsync("hi", options));
    }

    [Fact]
    public void FinishReturnsTheHeldBackTextOnce()
    {
        JetModel model = TestModels.Get("demo");
        var g = new JetGeneration(model, new JetGenerationOptions { StopStrings = ["xyz"] }, room: 100);
        string shown = string.Concat(model.Tokenizer!.Encode("ab x").Select(id => g.Append(id)));
        Assert.Equal("ab ", shown);
        Assert.Equal("x", g.Finish(JetFinishReason.Cancelled));
        Assert.Equal(JetFinishReason.Cancelled, g.FinishReason);
        Assert.Equal("", g.Finish(JetFinishReason.Length));
        Assert.Equal(JetFinishReason.Cancelled, g.FinishReason);
    }

    // ------------------------------------------------------------------ the driver over the engine

    [Fact]
    public void TheDriverEndsAtTheContextWithLengthNotContextFull()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = Prompt.Length + 6 });
        JetGeneration g = session.StartGeneration(Prompt, Sampled(100));
        Assert.Equal(6, g.MaxTokens);
        session.Generate(g);
        Assert.Equal(JetFinishReason.Length, g.FinishReason);
        Assert.Equal(6, g.Count);
        Assert.Equal(session.Context, session.Position);  // every generated token joined the sequence

        using JetSession unlimited = model.CreateSession(new JetSessionOptions { Context = Prompt.Length + 9 });
        int[] tokens = unlimited.GenerateTokens(Prompt, Sampled(JetGeneration.UntilContextEnd));
        Assert.Equal(9, tokens.Length);
        Assert.Equal(unlimited.Context, unlimited.Position);
    }

    [Fact]
    public async Task GenerateAsyncReachingTheContextEndsGracefully()
    {
        JetModel model = TestModels.Get("demo");
        int promptLength = model.Tokenizer!.Encode("Once upon a time").Count;
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = promptLength + 10 });
        var pieces = new List<string>();
        await foreach (string piece in session.GenerateAsync("Once upon a time", Sampled(500), Ct))
            pieces.Add(piece);
        Assert.NotEmpty(pieces);
        Assert.Equal(session.Context, session.Position);
    }

    [Fact]
    public void NoSeedMeansARandomSeedAndAnExplicitOneIsReproducible()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        int[] Run(ulong? seed)
        {
            using JetSession s = model.CreateSession(new JetSessionOptions { Context = 128 });
            return s.GenerateTokens(Prompt, Sampled(24, seed));
        }
        Assert.Null(new JetSamplingOptions().Seed);
        int[][] unseeded = [Run(null), Run(null), Run(null)];
        Assert.True(unseeded.Select(t => string.Join(',', t)).Distinct().Count() > 1, "three unseeded runs gave the same tokens");
        Assert.Equal(Run(77), Run(77));
    }

    [Fact]
    public void ACancelledGenerationKeepsWhatWasDecodedAndTheConversationGoesOn()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 256 });
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        JetGeneration g = session.StartGeneration(Prompt, Sampled(200), 0, cts.Token);
        Assert.Throws<OperationCanceledException>(() => session.Generate(g, (state, _) =>
        {
            if (state.Count == 5)
                cts.Cancel();
            return true;
        }, 0, cts.Token));
        Assert.Equal(JetFinishReason.Cancelled, g.FinishReason);
        Assert.Equal(5, g.Count);
        // The prompt and the 4 decoded tokens stay; the 5th was sampled but never decoded.
        Assert.Equal(Prompt.Length + 4, session.Position);

        // The conversation goes on from there: the same as a session fed the same tokens by hand.
        var greedy = new JetGenerationOptions { Sampling = JetSamplingOptions.Greedy, MaxTokens = 8, StopAtEndOfSequence = false };
        int[] next = session.GenerateTokens([7, 8], greedy);
        using JetSession manual = model.CreateSession(new JetSessionOptions { Context = 256 });
        manual.Prefill(Prompt);
        foreach (int t in g.Tokens.Take(4))
            manual.Decode(t);
        Assert.Equal(next, manual.GenerateTokens([7, 8], greedy));
        Assert.Equal(Prompt.Length + 4 + 2 + 8, session.Position);
    }

    [Fact]
    public void StoppingFromTheCallbackDecodesTheLastToken()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 256 });
        JetGeneration g = session.StartGeneration(Prompt, Sampled(200));
        session.Generate(g, (state, _) => state.Count < 3);
        Assert.Equal(JetFinishReason.Cancelled, g.FinishReason);
        Assert.Equal(3, g.Count);
        Assert.Equal(Prompt.Length + 3, session.Position);
    }

    [Fact]
    public void NothingToContinueAndAPromptBeyondTheContextAreClearErrors()
    {
        JetModel model = TestModels.Get("tiny-jet-b");
        using JetSession session = model.CreateSession(new JetSessionOptions { Context = 6 });
        Assert.Contains("nothing to continue", Assert.Throws<ArgumentException>(() => session.StartGeneration([])).Message);
        var e = Assert.Throws<JetException>(() => session.StartGeneration(Prompt));
        Assert.Equal(JetStatus.ContextFull, e.Status);
        Assert.Equal(0, session.Position);
    }
}
