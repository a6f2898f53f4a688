using JetNative.Cli;
using JetNative.Cli.Serving;
using Xunit;

namespace JetNative.Tests.Cli.Serving;

public sealed class GoodputSloTests
{
    private static RequestTiming Request(double ttftMs, double e2eMs, int tokens) => new()
    {
        Sent = 0,
        Chunks = [ttftMs / 1000, e2eMs / 1000],
        Finished = e2eMs / 1000,
        OutputTokens = tokens,
    };

    [Fact]
    public void Pairs_parse_in_any_order_and_separation()
    {
        Assert.Equal(new GoodputSlo(500, 50, null), GoodputSlo.Parse(["ttft:500", "tpot:50"]));
        Assert.Equal(new GoodputSlo(500, 50, 2000), GoodputSlo.Parse(["e2el:2000 TTFT:500,tpot:50"]));
        Assert.True(GoodputSlo.Parse([]).IsEmpty);
        Assert.Equal("ttft:500 e2el:2000", new GoodputSlo(500, null, 2000).ToString());
    }

    [Theory]
    [InlineData("ttft", "KEY:MILLISECONDS")]
    [InlineData("ttft:abc", "KEY:MILLISECONDS")]
    [InlineData("ttft:-1", "positive")]
    [InlineData("ttft:0", "positive")]
    [InlineData("itl:5", "keys are ttft, tpot and e2el")]
    [InlineData("ttft:5 ttft:6", "twice")]
    public void Bad_pairs_are_usage_errors(string text, string message)
    {
        var e = Assert.Throws<UsageException>(() => GoodputSlo.Parse([text]));
        Assert.Contains(message, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_is_good_when_it_meets_every_objective()
    {
        var slo = new GoodputSlo(TtftMs: 100, TpotMs: 10, E2eMs: null);
        Assert.True(slo.IsMetBy(Request(ttftMs: 100, e2eMs: 190, tokens: 10)));   // TPOT 10: on the line
        Assert.False(slo.IsMetBy(Request(ttftMs: 101, e2eMs: 190, tokens: 10)));  // TTFT over
        Assert.False(slo.IsMetBy(Request(ttftMs: 50, e2eMs: 200, tokens: 10)));   // TPOT 16.7 over
        Assert.True(slo.IsMetBy(Request(ttftMs: 50, e2eMs: 5000, tokens: 1)));    // one token: no TPOT to miss
        Assert.False(new GoodputSlo(null, null, 1000).IsMetBy(Request(50, 1001, 3)));
    }
}
