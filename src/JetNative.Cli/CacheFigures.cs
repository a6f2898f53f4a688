namespace JetNative.Cli;

/// <summary>
/// The cache of one sequence as a + b * n: a is what does not grow with the context once it is past
/// the sliding window (JetBlock states, full SWA ring buffers), b is the full-attention KV per token.
/// Read from the engine's own arithmetic (jet_model_cache_bytes) at two lengths past the window.
/// </summary>
internal readonly record struct CacheFigures(long Fixed, long PerToken)
{
    public static CacheFigures Of(JetModel model)
    {
        long n1 = Math.Max(model.Info.SlidingWindow, 1) + 1;
        long n2 = 2 * n1;
        long c1 = model.CacheBytes(n1), c2 = model.CacheBytes(n2);
        long perToken = (c2 - c1) / (n2 - n1);
        return new CacheFigures(c1 - perToken * n1, perToken);
    }
}
