using System.Globalization;
using JetNative.Search.Accounting;

namespace JetNative.Cli;

/// <summary>Human-readable sizes and counts.</summary>
internal static class Units
{
    public static string Bytes(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double v = bytes;
        int u = 0;
        while (Math.Abs(v) >= 1024 && u < units.Length - 1) { v /= 1024; u++; }
        return u == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{v:F2} {units[u]}");
    }

    /// <summary>A size such as 2GiB or 500MB (<see cref="ByteSize.Parse"/>); a bad one is a usage error naming <paramref name="option"/>.</summary>
    public static long ParseBytes(string text, string option)
    {
        try { return ByteSize.Parse(text); }
        catch (FormatException e) { throw new UsageException($"{option}: {e.Message}"); }
    }

    public static string Count(long n) => n switch
    {
        >= 1_000_000_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e9:F2} B"),
        >= 1_000_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e6:F2} M"),
        >= 1_000 => string.Create(CultureInfo.InvariantCulture, $"{n / 1e3:F2} K"),
        _ => n.ToString(CultureInfo.InvariantCulture),
    };
}
