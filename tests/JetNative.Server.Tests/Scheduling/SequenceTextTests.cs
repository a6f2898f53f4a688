using System.Text;
using JetNative.Server.Scheduling;
using JetNative.Server.Tests.Support;
using Xunit;

using JetNative.Tokenization;
namespace JetNative.Server.Tests.Scheduling;

/// <summary>The per-slot text state: stop strings across tokens, stop tokens, the token limit.</summary>
public sealed class SequenceTextTests
{
    private static (string Text, string? Reason, int Tokens) Feed(string text, GenerationLimits limits, int? extraToken = null)
    {
        JetTokenizer tok = ServerTestModels.Tokenizer;
        var state = new SequenceText(tok, limits);
        var emitted = new StringBuilder();
        List<int> ids = [.. tok.Encode(text)];
        if (extraToken is int t) ids.Add(t);
        foreach (int id in ids)
        {
            (string piece, bool done) = state.Accept(id);
            emitted.Append(piece);
            if (done) return (emitted.ToString(), state.FinishReason, state.Generated);
        }
        emitted.Append(state.Finish("length"));
        return (emitted.ToString(), state.FinishReason, state.Generated);
    }

    [Fact]
    public void AStopStringSpanningTokensEndsTheTextBeforeIt()
    {
        var (text, reason, _) = Feed("Good morrow, ROMEO: and more", new GenerationLimits(1000, [], ["ROMEO:"]));
        Assert.Equal("Good morrow, ", text);
        Assert.Equal("stop", reason);
    }

    [Fact]
    public void AStopTokenEndsItAndIsCounted()
    {
        int eos = ServerTestModels.Tokenizer.StopTokenIds[0];
        int n = ServerTestModels.Tokenizer.Encode("Good night").Count;
        var (text, reason, tokens) = Feed("Good night", new GenerationLimits(1000, [eos], []), eos);
        Assert.Equal(("Good night", "stop", n + 1), (text, reason, tokens));
    }

    [Fact]
    public void TheTokenLimitEndsItWithLengthAndFlushesHeldText()
    {
        int n = ServerTestModels.Tokenizer.Encode("Good night, sweet prince").Count;
        var (text, reason, tokens) = Feed("Good night, sweet prince", new GenerationLimits(n, [], ["prince and"]));
        Assert.Equal(("Good night, sweet prince", "length", n), (text, reason, tokens));
    }
}
