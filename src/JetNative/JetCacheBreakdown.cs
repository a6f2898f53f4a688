namespace JetNative;

/// <summary>
/// The cache one sequence needs at <see cref="Context"/> tokens on <see cref="Device"/>, by part, in
/// bytes (jet_cache_breakdown).
/// </summary>
/// <param name="Device">The device whose allocation this is (element types differ: CPU float32, CUDA bf16 K/V).</param>
/// <param name="Context">Tokens of context.</param>
/// <param name="AttentionKv">K and V of every token in the full-attention layers.</param>
/// <param name="SlidingWindowKv">The sliding-window layers' K and V (min(window, context) rows each).</param>
/// <param name="JetState">The JetBlocks' recurrent states (H x dK x dV each).</param>
/// <param name="JetConv">The JetBlocks' conv states (the last conv_size values of V each).</param>
/// <param name="Total">All of it: <see cref="JetModel.CacheBytes"/> of such a model.</param>
/// <param name="PerToken">What one more token of context adds (the full-attention KV).</param>
public readonly record struct JetCacheBreakdown(JetDevice Device, long Context, long AttentionKv, long SlidingWindowKv,
    long JetState, long JetConv, long Total, long PerToken)
{
    /// <summary>The part that does not grow with the context: the JetBlock states.</summary>
    public long JetTotal => JetState + JetConv;
}
