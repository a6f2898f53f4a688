namespace JetNative.Cli.Serving;

/// <summary>
/// Mean, standard deviation, median and 99th percentile of a set of latencies (milliseconds), as
/// <c>vllm bench serve</c> reports them. Percentiles interpolate linearly between the closest ranks
/// (numpy's default), so the median of an even count is the mean of the middle two.
/// </summary>
internal readonly record struct LatencyStats(double Mean, double StdDev, double Median, double P99, int Count)
{
    /// <summary>All zeros: what an empty set reports (e.g. ITL when every answer has one token).</summary>
    public static LatencyStats Empty => default;

    public static LatencyStats Of(IEnumerable<double> values)
    {
        double[] sorted = values.ToArray();
        if (sorted.Length == 0) return Empty;
        Array.Sort(sorted);
        double mean = sorted.Average();
        double variance = sorted.Sum(v => (v - mean) * (v - mean)) / sorted.Length; // population, as numpy.std
        return new LatencyStats(mean, Math.Sqrt(variance), Percentile(sorted, 50), Percentile(sorted, 99), sorted.Length);
    }

    /// <summary>The <paramref name="p"/>-th percentile (0..100) of ascending <paramref name="sorted"/>, linear interpolation.</summary>
    public static double Percentile(IReadOnlyList<double> sorted, double p)
    {
        if (sorted.Count == 0) throw new ArgumentException("no value", nameof(sorted));
        if (p is < 0 or > 100 || double.IsNaN(p)) throw new ArgumentOutOfRangeException(nameof(p), p, "a percentile is in 0..100");
        double rank = p / 100.0 * (sorted.Count - 1);
        int lower = (int)Math.Floor(rank);
        int upper = Math.Min(lower + 1, sorted.Count - 1);
        double fraction = rank - lower;
        return sorted[lower] + (sorted[upper] - sorted[lower]) * fraction;
    }
}
