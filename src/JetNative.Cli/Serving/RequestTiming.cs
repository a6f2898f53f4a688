namespace JetNative.Cli.Serving;

/// <summary>
/// What one benchmark request measured. Times are seconds on the benchmark's clock:
/// <see cref="Sent"/> when the request went out, <see cref="Chunks"/> when each streamed chunk that
/// carried text arrived, <see cref="Finished"/> when the stream ended. Failed requests carry
/// <see cref="Error"/> and no figures.
/// </summary>
internal sealed record RequestTiming
{
    public required double Sent { get; init; }
    public IReadOnlyList<double> Chunks { get; init; } = [];
    public double Finished { get; init; }
    /// <summary>Prompt tokens (the server's usage figure, else the ids sent; 0 if unknown).</summary>
    public int PromptTokens { get; init; }
    /// <summary>Generated tokens (the server's usage figure, else one per text chunk).</summary>
    public int OutputTokens { get; init; }
    public string? Error { get; init; }

    public bool Success => Error is null && Chunks.Count > 0;

    /// <summary>Time to first token, ms: from sending to the first chunk with text.</summary>
    public double TtftMs => (Chunks[0] - Sent) * 1000;

    /// <summary>End-to-end latency, ms.</summary>
    public double E2eMs => (Finished - Sent) * 1000;

    /// <summary>
    /// Time per output token after the first, ms: (latency - TTFT) / (output tokens - 1); null for
    /// a one-token answer (no decode step to time).
    /// </summary>
    public double? TpotMs => OutputTokens > 1 ? (E2eMs - TtftMs) / (OutputTokens - 1) : null;

    /// <summary>Inter-token latencies, ms: every gap between consecutive text chunks.</summary>
    public IEnumerable<double> ItlMs
    {
        get
        {
            for (int i = 1; i < Chunks.Count; i++)
                yield return (Chunks[i] - Chunks[i - 1]) * 1000;
        }
    }
}
