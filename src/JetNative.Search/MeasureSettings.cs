namespace JetNative.Search;

/// <summary>
/// How one candidate is timed: a warm-up (a short prefill and a few decode steps), then
/// <see cref="Repetitions"/> timed runs of a prefill of <see cref="Context"/> tokens followed by
/// <see cref="DecodeTokens"/> decode steps of <see cref="Batch"/> sequences at that depth.
/// </summary>
public sealed record MeasureSettings
{
    /// <summary>Prompt tokens of the timed prefill; the decode steps run at this depth.</summary>
    public int Context { get; init; } = 65536;
    /// <summary>Decode steps timed per repetition.</summary>
    public int DecodeTokens { get; init; } = 32;
    /// <summary>Sequences per decode step (each a copy of the prefilled one).</summary>
    public int Batch { get; init; } = 1;
    /// <summary>Timed repetitions (the reported figure is their mean).</summary>
    public int Repetitions { get; init; } = 3;
    /// <summary>Tokens of the warm-up prefill (capped at the context).</summary>
    public int WarmupTokens { get; init; } = 1024;

    internal void Validate()
    {
        if (Context < 1) throw new ArgumentException($"the context must be >= 1 token, not {Context}");
        if (DecodeTokens < 1) throw new ArgumentException($"the decode tokens must be >= 1, not {DecodeTokens}");
        if (Batch < 1) throw new ArgumentException($"the batch must be >= 1, not {Batch}");
        if (Repetitions < 1) throw new ArgumentException($"the repetitions must be >= 1, not {Repetitions}");
        if (WarmupTokens < 1) throw new ArgumentException($"the warm-up tokens must be >= 1, not {WarmupTokens}");
        if ((long)Context + DecodeTokens > int.MaxValue) throw new ArgumentException("context + decode tokens is too large");
    }

    /// <summary>Tokens a sequence of the session must hold.</summary>
    public int SessionContext => Context + DecodeTokens;
}

/// <summary>Mean and sample standard deviation of the timed repetitions, in tokens per second.</summary>
public readonly record struct Rate(double Mean, double StdDev)
{
    /// <summary>The mean and sample standard deviation of <paramref name="samples"/> (at least one).</summary>
    public static Rate Of(IReadOnlyList<double> samples)
    {
        if (samples.Count == 0) throw new ArgumentException("no samples");
        double mean = samples.Average();
        double sd = samples.Count > 1 ? Math.Sqrt(samples.Sum(x => (x - mean) * (x - mean)) / (samples.Count - 1)) : 0;
        return new Rate(mean, sd);
    }
}

/// <summary>What <see cref="ThroughputMeter"/> measured for one model.</summary>
public sealed record Throughput(Rate Prefill, Rate Decode);
