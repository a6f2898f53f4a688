namespace JetNative.Cli.Serving;

/// <summary>
/// The figures of one <c>bench serve</c> run, computed as <c>vllm bench serve</c> does: throughputs
/// over the whole run's wall time; TTFT, TPOT, ITL and end-to-end latency over successful requests
/// (ITL pools every inter-chunk gap of every request); goodput counts the requests that meet every
/// SLO, per second.
/// </summary>
internal sealed record ServeMetrics
{
    public required int Completed { get; init; }
    public required int Failed { get; init; }
    public required double DurationS { get; init; }
    public required long TotalInputTokens { get; init; }
    public required long TotalOutputTokens { get; init; }
    public required double RequestThroughput { get; init; }
    public required double OutputThroughput { get; init; }
    public required double TotalTokenThroughput { get; init; }
    /// <summary>Good requests per second; null when no SLO was given.</summary>
    public double? RequestGoodput { get; init; }
    public required LatencyStats Ttft { get; init; }
    public required LatencyStats Tpot { get; init; }
    public required LatencyStats Itl { get; init; }
    public required LatencyStats E2el { get; init; }

    public static ServeMetrics Compute(IReadOnlyList<RequestTiming> results, double durationS, GoodputSlo slo)
    {
        if (!(durationS > 0)) throw new ArgumentOutOfRangeException(nameof(durationS), durationS, "the run's duration must be positive");
        RequestTiming[] ok = results.Where(r => r.Success).ToArray();
        long input = ok.Sum(r => (long)r.PromptTokens);
        long output = ok.Sum(r => (long)r.OutputTokens);
        return new ServeMetrics
        {
            Completed = ok.Length,
            Failed = results.Count - ok.Length,
            DurationS = durationS,
            TotalInputTokens = input,
            TotalOutputTokens = output,
            RequestThroughput = ok.Length / durationS,
            OutputThroughput = output / durationS,
            TotalTokenThroughput = (input + output) / durationS,
            RequestGoodput = slo.IsEmpty ? null : ok.Count(slo.IsMetBy) / durationS,
            Ttft = LatencyStats.Of(ok.Select(r => r.TtftMs)),
            Tpot = LatencyStats.Of(ok.Select(r => r.TpotMs).OfType<double>()),
            Itl = LatencyStats.Of(ok.SelectMany(r => r.ItlMs)),
            E2el = LatencyStats.Of(ok.Select(r => r.E2eMs)),
        };
    }
}
