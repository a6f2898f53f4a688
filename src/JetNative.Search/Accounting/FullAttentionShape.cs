namespace JetNative.Search.Accounting;

/// <summary>
/// A full-attention transformer that is not a Jet-Nemotron config, as far as its KV cache goes: every
/// layer keeps K and V of every token (for comparisons; a Jet config's own cache comes from the engine,
/// and its all-attention twin from <see cref="ModelShape.WithFullAttention"/>).
/// </summary>
public sealed record FullAttentionShape(string Name, int Layers, int KeyValueHeads, int HeadDim)
{
    /// <summary>Qwen3-1.7B: 28 layers, 8 KV heads of 128 (the paper's full-attention comparison).</summary>
    public static FullAttentionShape Qwen3_1_7B { get; } = new("Qwen3-1.7B", 28, 8, 128);

    /// <summary>Qwen2.5-1.5B: 28 layers, 2 KV heads of 128 (Jet-Nemotron-2B's starting point).</summary>
    public static FullAttentionShape Qwen2_5_1_5B { get; } = new("Qwen2.5-1.5B", 28, 2, 128);

    /// <summary>KV bytes of one sequence at <paramref name="context"/> tokens, <paramref name="bytesPerElement"/> per K/V element.</summary>
    public long KvBytes(long context, int bytesPerElement = 2)
    {
        CacheAccounting.CheckContext(context);
        return (long)Layers * context * 2 * KeyValueHeads * HeadDim * bytesPerElement;
    }
}
