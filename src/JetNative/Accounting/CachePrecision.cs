namespace JetNative.Accounting;

/// <summary>
/// Bytes per element of each part of a sequence's cache: the attention KV (full and sliding
/// window), the JetBlock recurrent state S and the JetBlock conv state (the last W values of V).
/// </summary>
public sealed record CachePrecision(int KvBytes, int StateBytes, int ConvBytes, string Name)
{
    /// <summary>The CUDA engine: bf16 KV, fp32 recurrent and conv states.</summary>
    public static CachePrecision Cuda { get; } = new(2, 4, 4, "bf16 KV, fp32 states (CUDA engine)");

    /// <summary>The CPU engine: everything fp32.</summary>
    public static CachePrecision Cpu { get; } = new(4, 4, 4, "fp32 KV and states (CPU engine)");

    /// <summary>The paper's accounting (spec section 6): bf16 KV and conv state, fp32 recurrent state.</summary>
    public static CachePrecision Paper { get; } = new(2, 4, 2, "bf16 KV and conv, fp32 recurrent state");

    /// <summary>What the engine allocates on <paramref name="device"/>.</summary>
    public static CachePrecision For(JetDevice device) => device == JetDevice.Cuda ? Cuda : Cpu;
}
