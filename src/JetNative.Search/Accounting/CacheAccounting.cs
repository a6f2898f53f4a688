namespace JetNative.Search.Accounting;

/// <summary>
/// Cache arithmetic (docs/model.md section 6): bytes per sequence of any config at any context on a
/// device, as the engine allocates them (jet_config_cache_bytes), and the largest batch that fits in
/// a GPU's memory.
/// </summary>
public static class CacheAccounting
{
    /// <summary>The cache of one sequence of <paramref name="shape"/> at <paramref name="context"/> tokens on <paramref name="device"/>.</summary>
    public static JetCacheBreakdown PerSequence(ModelShape shape, long context, JetDevice device)
    {
        ArgumentNullException.ThrowIfNull(shape);
        CheckContext(context);
        return shape.CacheBytes(context, device);
    }

    /// <summary>
    /// The largest number of sequences whose cache fits in <paramref name="memoryBytes"/> next to the
    /// weights and a reserve (activations, workspaces); 0 when not even one does.
    /// </summary>
    public static long MaxBatch(long cacheBytesPerSequence, long memoryBytes, long weightBytes, long reserveBytes = 0)
    {
        if (cacheBytesPerSequence <= 0) throw new ArgumentOutOfRangeException(nameof(cacheBytesPerSequence), cacheBytesPerSequence, "must be > 0");
        if (memoryBytes <= 0) throw new ArgumentOutOfRangeException(nameof(memoryBytes), memoryBytes, "must be > 0");
        if (weightBytes < 0 || reserveBytes < 0) throw new ArgumentOutOfRangeException(nameof(weightBytes), "weights and reserve must be >= 0");
        long free = memoryBytes - weightBytes - reserveBytes;
        return free <= 0 ? 0 : free / cacheBytesPerSequence;
    }

    internal static void CheckContext(long context)
    {
        if (context < 1 || context > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(context), context, "context must be in [1, 2^31)");
    }
}
