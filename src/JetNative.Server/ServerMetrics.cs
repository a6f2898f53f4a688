using Prometheus;

namespace JetNative.Server;

/// <summary>
/// The server's Prometheus metrics (GET /metrics), in a registry of their own so that several
/// servers can live in one process (tests).
/// </summary>
public sealed class ServerMetrics
{
    /// <summary>A fresh registry with every metric at zero.</summary>
    public ServerMetrics()
    {
        Registry = Metrics.NewCustomRegistry();
        MetricFactory f = Metrics.WithCustomRegistry(Registry);
        string[] engine = ["engine"];
        QueueDepth = f.CreateGauge("jetnative_queue_depth", "Requests waiting for a slot", engine);
        RunningSequences = f.CreateGauge("jetnative_running_sequences", "Sequences being prefilled or decoded", engine);
        FreeSlots = f.CreateGauge("jetnative_free_slots", "Generation slots free", engine);
        TokensPerSecond = f.CreateGauge("jetnative_tokens_per_second", "Generated tokens per second over the last second", engine);
        GeneratedTokens = f.CreateCounter("jetnative_generated_tokens_total", "Tokens generated");
        PromptTokens = f.CreateCounter("jetnative_prompt_tokens_total", "Prompt tokens of admitted requests");
        PrefilledTokens = f.CreateCounter("jetnative_prefill_tokens_total", "Prompt tokens prefilled (not taken from a prefix snapshot)");
        ReusedPrefixTokens = f.CreateCounter("jetnative_prefix_reused_tokens_total", "Prompt tokens taken from a prefix snapshot instead of prefilled");
        TimeToFirstToken = f.CreateHistogram("jetnative_time_to_first_token_seconds", "From queueing to the first token",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.001, 2, 16) });
        InterTokenLatency = f.CreateHistogram("jetnative_inter_token_latency_seconds", "Between two tokens of one sequence",
            new HistogramConfiguration { Buckets = Histogram.ExponentialBuckets(0.0005, 2, 16) });
        Requests = f.CreateCounter("jetnative_requests_total", "HTTP requests by status code", ["status"]);
    }

    /// <summary>The registry GET /metrics exports.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Requests waiting for a slot, per engine.</summary>
    public Gauge QueueDepth { get; }

    /// <summary>Sequences being prefilled or decoded, per engine.</summary>
    public Gauge RunningSequences { get; }

    /// <summary>Free generation slots, per engine.</summary>
    public Gauge FreeSlots { get; }

    /// <summary>Generated tokens per second, per engine.</summary>
    public Gauge TokensPerSecond { get; }

    /// <summary>Tokens generated.</summary>
    public Counter GeneratedTokens { get; }

    /// <summary>Prompt tokens of admitted requests.</summary>
    public Counter PromptTokens { get; }

    /// <summary>Prompt tokens prefilled.</summary>
    public Counter PrefilledTokens { get; }

    /// <summary>Prompt tokens copied from prefix snapshots.</summary>
    public Counter ReusedPrefixTokens { get; }

    /// <summary>Time to first token.</summary>
    public Histogram TimeToFirstToken { get; }

    /// <summary>Inter-token latency.</summary>
    public Histogram InterTokenLatency { get; }

    /// <summary>HTTP requests by status.</summary>
    public Counter Requests { get; }
}
