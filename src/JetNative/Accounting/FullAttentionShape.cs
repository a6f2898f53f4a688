namespace JetNative.Accounting;

/// <summary>
/// A full-attention transformer as far as its KV cache goes: every layer keeps K and V of every token.
/// </summary>
public sealed record FullAttentionShape(string Name, int Layers, int KeyValueHeads, int HeadDim)
{
    /// <summary>Qwen3-1.7B: 28 layers, 8 KV heads of 128 (the paper's full-attention comparison).</summary>
    public static FullAttentionShape Qwen3_1_7B { get; } = new("Qwen3-1.7B", 28, 8, 128);

    /// <summary>Qwen2.5-1.5B: 28 layers, 2 KV heads of 128 (Jet-Nemotron-2B's starting point).</summary>
    public static FullAttentionShape Qwen2_5_1_5B { get; } = new("Qwen2.5-1.5B", 28, 2, 128);

    /// <summary>The model's layers all made full attention with its own KV heads and head dim.</summary>
    public static FullAttentionShape SameDimensionsAs(ModelShape shape) =>
        new($"full attention, same dims ({shape.Layers.Count} x {shape.NumKeyValueHeads} KV heads x {shape.HeadDim})",
            shape.Layers.Count, shape.NumKeyValueHeads, shape.HeadDim);

    /// <summary>KV bytes of one sequence at <paramref name="context"/> tokens.</summary>
    public long KvBytes(long context, int bytesPerElement = 2)
    {
        CacheAccounting.CheckContext(context);
        return (long)Layers * context * 2 * KeyValueHeads * HeadDim * bytesPerElement;
    }
}
