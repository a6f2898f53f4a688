using System.Globalization;

namespace JetNative.Search.Accounting;

/// <summary>Reads and writes sizes such as "158MiB", "80 GiB", "1.5GB" or "4096" (bytes).</summary>
public static class ByteSize
{
    private static readonly (string Suffix, double Factor)[] Units =
    [
        ("KIB", 1024d), ("MIB", 1024d * 1024), ("GIB", 1024d * 1024 * 1024), ("TIB", 1024d * 1024 * 1024 * 1024),
        ("KB", 1e3), ("MB", 1e6), ("GB", 1e9), ("TB", 1e12), ("K", 1024d), ("M", 1024d * 1024), ("G", 1024d * 1024 * 1024), ("B", 1),
    ];

    /// <summary>Bytes in <paramref name="text"/>; <see cref="FormatException"/> when it is not a positive size.</summary>
    public static long Parse(string text)
    {
        string t = (text ?? "").Trim().ToUpperInvariant();
        double factor = 1;
        foreach (var (suffix, f) in Units)
        {
            if (t.EndsWith(suffix, StringComparison.Ordinal))
            {
                t = t[..^suffix.Length].TrimEnd();
                factor = f;
                break;
            }
        }
        if (!double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !(v > 0) || !double.IsFinite(v * factor) || v * factor >= long.MaxValue)
            throw new FormatException($"'{text}' is not a size (examples: 158MiB, 80GiB, 1.5GB, 4096)");
        return (long)Math.Round(v * factor);
    }

    /// <summary>Mebibytes with two decimals, e.g. "158.38 MiB".</summary>
    public static string Mebibytes(long bytes) => string.Create(CultureInfo.InvariantCulture, $"{bytes / (1024.0 * 1024.0):F2} MiB");
}
