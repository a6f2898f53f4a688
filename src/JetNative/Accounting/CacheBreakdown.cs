namespace JetNative.Accounting;

/// <summary>
/// The cache one sequence needs at <see cref="Context"/> tokens, by part, in bytes.
/// </summary>
/// <param name="Context">Tokens of context.</param>
/// <param name="AttentionKv">K and V of every token in the full-attention layers.</param>
/// <param name="SlidingWindowKv">The sliding-window layers' K and V ring buffers (min(window, context) rows).</param>
/// <param name="JetState">The JetBlocks' recurrent states S (H x dK x dV each).</param>
/// <param name="JetConv">The JetBlocks' conv states (the last W values of V, H*dV x W each).</param>
public readonly record struct CacheBreakdown(long Context, long AttentionKv, long SlidingWindowKv, long JetState, long JetConv)
{
    /// <summary>All of it.</summary>
    public long Total => AttentionKv + SlidingWindowKv + JetState + JetConv;

    /// <summary>The part that does not grow with the context (JetBlock states).</summary>
    public long JetTotal => JetState + JetConv;
}
