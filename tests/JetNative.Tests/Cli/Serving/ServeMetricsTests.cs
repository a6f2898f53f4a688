using JetNative.Cli.Serving;
using Xunit;

namespace JetNative.Tests.Cli.Serving;

public sealed class ServeMetricsTests
{
    private static readonly RequestTiming[] Results =
    [
        // TTFT 100, ITL 50 50, E2E 200, 3 tokens: TPOT 50
        new() { Sent = 0, Chunks = [0.1, 0.15, 0.2], Finished = 0.2, PromptTokens = 10, OutputTokens = 3 },
        // TTFT 300, ITL 100, E2E 400, 2 tokens: TPOT 100
        new() { Sent = 0.5, Chunks = [0.8, 0.9], Finished = 0.9, PromptTokens = 20, OutputTokens = 2 },
        // failed: counted, excluded from every figure
        new() { Sent = 1.0, Finished = 1.1, Error = "HTTP 500" },
    ];

    [Fact]
    public void Throughputs_divide_by_the_run_duration_and_count_successes_only()
    {
        ServeMetrics m = ServeMetrics.Compute(Results, durationS: 2.0, new GoodputSlo(null, null, null));
        Assert.Equal((2, 1), (m.Completed, m.Failed));
        Assert.Equal((30L, 5L), (m.TotalInputTokens, m.TotalOutputTokens));
        Assert.Equal(1.0, m.RequestThroughput, 12);
        Assert.Equal(2.5, m.OutputThroughput, 12);
        Assert.Equal(17.5, m.TotalTokenThroughput, 12);
        Assert.Null(m.RequestGoodput);
    }

    [Fact]
    public void Latency_figures_pool_the_successful_requests()
    {
        ServeMetrics m = ServeMetrics.Compute(Results, 2.0, new GoodputSlo(null, null, null));
        Assert.Equal(200, m.Ttft.Mean, 9);
        Assert.Equal(75, m.Tpot.Mean, 9);
        Assert.Equal(3, m.Itl.Count); // every gap of every request
        Assert.Equal(200.0 / 3, m.Itl.Mean, 9);
        Assert.Equal(50, m.Itl.Median, 9);
        Assert.Equal(300, m.E2el.Mean, 9);
        Assert.Equal(398, m.E2el.P99, 9);
    }

    [Fact]
    public void Goodput_counts_requests_that_meet_the_slos_per_second()
    {
        Assert.Equal(0.5, ServeMetrics.Compute(Results, 2.0, new GoodputSlo(150, null, null)).RequestGoodput!.Value, 12);
        Assert.Equal(1.0, ServeMetrics.Compute(Results, 2.0, new GoodputSlo(301, 101, 401)).RequestGoodput!.Value, 12);
        Assert.Equal(0.0, ServeMetrics.Compute(Results, 2.0, new GoodputSlo(null, 10, null)).RequestGoodput!.Value, 12);
    }

    [Fact]
    public void A_non_positive_duration_is_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => ServeMetrics.Compute(Results, 0, new GoodputSlo(null, null, null)));
    }
}
