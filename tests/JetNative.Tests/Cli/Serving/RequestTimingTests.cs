using JetNative.Cli.Serving;
using Xunit;

namespace JetNative.Tests.Cli.Serving;

public sealed class RequestTimingTests
{
    private static readonly RequestTiming Sample = new()
    {
        Sent = 1.0,
        Chunks = [1.10, 1.15, 1.25, 1.30],
        Finished = 1.31,
        PromptTokens = 32,
        OutputTokens = 4,
    };

    [Fact]
    public void Ttft_itl_tpot_and_latency_come_from_the_chunk_timestamps()
    {
        Assert.True(Sample.Success);
        Assert.Equal(100, Sample.TtftMs, 9);
        Assert.Equal([50.0, 100.0, 50.0], Sample.ItlMs.Select(v => Math.Round(v, 9)));
        Assert.Equal(310, Sample.E2eMs, 9);
        Assert.Equal((310.0 - 100.0) / 3, Sample.TpotMs!.Value, 9); // (latency - TTFT) / (tokens - 1)
    }

    [Fact]
    public void Tpot_uses_the_token_count_not_the_chunk_count()
    {
        // Two chunks that carried 3 tokens each: TPOT divides by 5 tokens, ITL has one gap.
        var r = Sample with { Chunks = [1.1, 1.2], Finished = 1.2, OutputTokens = 6 };
        Assert.Equal(20, r.TpotMs!.Value, 9);
        Assert.Single(r.ItlMs);
    }

    [Fact]
    public void A_one_token_answer_has_no_tpot_and_no_itl()
    {
        var r = Sample with { Chunks = [1.1], OutputTokens = 1 };
        Assert.Null(r.TpotMs);
        Assert.Empty(r.ItlMs);
    }

    [Fact]
    public void A_request_with_an_error_or_no_text_is_not_a_success()
    {
        Assert.False((Sample with { Error = "HTTP 500" }).Success);
        Assert.False((Sample with { Chunks = [] }).Success);
    }
}
