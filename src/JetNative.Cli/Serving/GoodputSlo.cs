using System.Globalization;

namespace JetNative.Cli.Serving;

/// <summary>
/// Service-level objectives for goodput (<c>--goodput ttft:500 tpot:50 e2el:2000</c>, milliseconds):
/// a request is good when it meets every objective given. Goodput is good requests per second.
/// </summary>
internal sealed record GoodputSlo(double? TtftMs, double? TpotMs, double? E2eMs)
{
    public bool IsEmpty => TtftMs is null && TpotMs is null && E2eMs is null;

    /// <summary>Parses <c>KEY:MS</c> pairs (keys ttft, tpot, e2el; each at most once).</summary>
    /// <exception cref="UsageException">A malformed pair, unknown key, repeated key or non-positive value.</exception>
    public static GoodputSlo Parse(IEnumerable<string> pairs)
    {
        double? ttft = null, tpot = null, e2el = null;
        foreach (string pair in pairs.SelectMany(p => p.Split([' ', ','], StringSplitOptions.RemoveEmptyEntries)))
        {
            string[] parts = pair.Split(':');
            if (parts.Length != 2 || !double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double ms))
                throw new UsageException($"--goodput takes KEY:MILLISECONDS pairs such as ttft:500, not '{pair}'");
            if (!(ms > 0) || double.IsInfinity(ms)) throw new UsageException($"--goodput {parts[0]} must be a positive number of milliseconds, not '{parts[1]}'");
            ref double? slot = ref ttft;
            switch (parts[0].ToLowerInvariant())
            {
                case "ttft": slot = ref ttft; break;
                case "tpot": slot = ref tpot; break;
                case "e2el": slot = ref e2el; break;
                default: throw new UsageException($"--goodput keys are ttft, tpot and e2el, not '{parts[0]}'");
            }
            if (slot is not null) throw new UsageException($"--goodput gives {parts[0]} twice");
            slot = ms;
        }
        return new GoodputSlo(ttft, tpot, e2el);
    }

    /// <summary>Whether a successful request meets every objective (a one-token answer has no TPOT and meets that one).</summary>
    public bool IsMetBy(RequestTiming r) =>
        (TtftMs is null || r.TtftMs <= TtftMs)
        && (TpotMs is null || r.TpotMs is null || r.TpotMs <= TpotMs)
        && (E2eMs is null || r.E2eMs <= E2eMs);

    public override string ToString() => string.Join(' ', new[] { ("ttft", TtftMs), ("tpot", TpotMs), ("e2el", E2eMs) }
        .Where(p => p.Item2 is not null).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Item1}:{p.Item2}")));
}
