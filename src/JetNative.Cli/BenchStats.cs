using System.Globalization;

namespace JetNative.Cli;

/// <summary>Mean and sample standard deviation of repeated measurements, printed as llama-bench does.</summary>
internal readonly record struct BenchStats(double Mean, double StdDev, int Count)
{
    public static BenchStats Of(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no measurement", nameof(values));
        double mean = values.Average();
        double sd = values.Count > 1
            ? Math.Sqrt(values.Sum(v => (v - mean) * (v - mean)) / (values.Count - 1))
            : 0.0;
        return new BenchStats(mean, sd, values.Count);
    }

    /// <summary><c>123.45 ± 1.23</c>.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{Mean:F2} ± {StdDev:F2}");
}
