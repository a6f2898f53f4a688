namespace JetNative.Accounting;

/// <summary>
/// Cache arithmetic (spec section 6): bytes per sequence for any config at any context, the
/// comparison with a full-attention model, and the largest batch that fits in a GPU's memory.
/// With <see cref="CachePrecision.Cpu"/> or <see cref="CachePrecision.Cuda"/> it gives what the
/// engine allocates (jet_model_cache_bytes).
/// </summary>
public static class CacheAccounting
{
    /// <summary>The cache of one sequence of <paramref name="shape"/> at <paramref name="context"/> tokens.</summary>
    public static CacheBreakdown PerSequence(ModelShape shape, long context, CachePrecision precision)
    {
        ArgumentNullException.ThrowIfNull(shape);
        ArgumentNullException.ThrowIfNull(precision);
        CheckContext(context);
        long kvRow = 2L * shape.NumKeyValueHeads * shape.HeadDim * precision.KvBytes; // K and V of one token
        long swaRows = Math.Min(shape.SlidingWindow, context);
        return new CacheBreakdown(
            context,
            AttentionKv: shape.AttentionLayerCount * context * kvRow,
            SlidingWindowKv: shape.SlidingWindowLayerCount * swaRows * kvRow,
            JetState: shape.JetLayerCount * JetStateBytes(shape.JetBlock, precision),
            JetConv: shape.JetLayerCount * JetConvBytes(shape.JetBlock, shape.JetConvSize, precision));
    }

    /// <summary>One JetBlock layer's recurrent state: H x dK x dV elements.</summary>
    public static long JetStateBytes(JetBlockDims dims, CachePrecision precision) => dims.StateElements * precision.StateBytes;

    /// <summary>One JetBlock layer's conv state: the last W values of V, H*dV x W elements.</summary>
    public static long JetConvBytes(JetBlockDims dims, int convSize, CachePrecision precision) =>
        (long)dims.Heads * dims.ValueDim * convSize * precision.ConvBytes;

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

    /// <summary>Bytes of the weights in bf16 (what the CUDA engine keeps on the GPU, to within a few fp32 vectors).</summary>
    public static long WeightBytesBf16(ModelShape shape) => shape.ParameterCount * 2;

    internal static void CheckContext(long context)
    {
        if (context < 1 || context > int.MaxValue)
            throw new ArgumentOutOfRangeException(nameof(context), context, "context must be in [1, 2^31)");
    }
}
