using JetNative.Interop;

namespace JetNative;

/// <summary>What the engine reports about a loaded model (jet_model_get_info) and its layer map.</summary>
public sealed record JetModelInfo
{
    /// <summary>Where the model runs.</summary>
    public JetDevice Device { get; init; }
    /// <summary>Rows of the embedding and the LM head (vocab_size; the tokenizer may have fewer tokens).</summary>
    public int VocabSize { get; init; }
    /// <summary>Width of the residual stream (hidden_size).</summary>
    public int HiddenSize { get; init; }
    /// <summary>Decoder layers.</summary>
    public int NumLayers { get; init; }
    /// <summary>Width of the MLP (intermediate_size).</summary>
    public int IntermediateSize { get; init; }
    /// <summary>Query heads of the attention layers.</summary>
    public int NumAttentionHeads { get; init; }
    /// <summary>Key/value heads of the attention layers (grouped-query attention).</summary>
    public int NumKeyValueHeads { get; init; }
    /// <summary>Attention head dimension.</summary>
    public int HeadDim { get; init; }
    /// <summary>Longest context the model supports (max_position_embeddings).</summary>
    public int MaxPositionEmbeddings { get; init; }
    /// <summary>Sliding window of the swa layers; 0 when there is none.</summary>
    public int SlidingWindow { get; init; }
    /// <summary>JetBlock heads; 0 when there is no JetBlock.</summary>
    public int JetNumHeads { get; init; }
    /// <summary>JetBlock key dim per head (jet_head_k_dim); 0 when there is no JetBlock.</summary>
    public int JetHeadKDim { get; init; }
    /// <summary>JetBlock value dim per head (jet_head_v_dim); 0 when there is no JetBlock.</summary>
    public int JetHeadVDim { get; init; }
    /// <summary>JetBlock dynamic-convolution kernel size (jet_conv_size); 0 when there is no JetBlock.</summary>
    public int JetConvSize { get; init; }
    /// <summary>Layers with full causal attention.</summary>
    public int AttentionLayerCount { get; init; }
    /// <summary>Layers with sliding-window attention.</summary>
    public int SlidingWindowLayerCount { get; init; }
    /// <summary>JetBlock layers.</summary>
    public int JetLayerCount { get; init; }
    /// <summary>Null when the config has none.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>Null when the config has none.</summary>
    public int? EosTokenId { get; init; }
    /// <summary>True when the LM head shares the embedding matrix.</summary>
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Parameters (a tied embedding counted once).</summary>
    public long ParameterCount { get; init; }
    /// <summary>Bytes the weights occupy on the model's device.</summary>
    public long WeightBytes { get; init; }
    /// <summary>
    /// What the linear layers' weights are stored as: <see cref="JetWeightDtype.Int8"/> or
    /// <see cref="JetWeightDtype.Fp8E4m3"/> for a weight-only quantized checkpoint (docs/quantization.md),
    /// else the checkpoint's float type.
    /// </summary>
    public JetWeightDtype WeightDtype { get; init; }
    /// <summary>Quantized weights: inputs per scale (0: one scale per output channel); 0 when not quantized.</summary>
    public int WeightGroupSize { get; init; }
    /// <summary>The mixer of each layer, in order.</summary>
    public IReadOnlyList<JetLayerType> Layers { get; init; } = [];

    internal static JetModelInfo FromNative(in NativeModelInfo n, JetLayerType[] layers) => new()
    {
        Device = (JetDevice)n.Device,
        VocabSize = n.VocabSize,
        HiddenSize = n.HiddenSize,
        NumLayers = n.NumLayers,
        IntermediateSize = n.IntermediateSize,
        NumAttentionHeads = n.NumAttentionHeads,
        NumKeyValueHeads = n.NumKvHeads,
        HeadDim = n.HeadDim,
        MaxPositionEmbeddings = n.MaxPositionEmbeddings,
        SlidingWindow = n.SwaWindow,
        JetNumHeads = n.JetNumHeads,
        JetHeadKDim = n.JetHeadKDim,
        JetHeadVDim = n.JetHeadVDim,
        JetConvSize = n.JetConvSize,
        AttentionLayerCount = n.NAttnLayers,
        SlidingWindowLayerCount = n.NSwaLayers,
        JetLayerCount = n.NJetLayers,
        BosTokenId = n.BosTokenId >= 0 ? n.BosTokenId : null,
        EosTokenId = n.EosTokenId >= 0 ? n.EosTokenId : null,
        TieWordEmbeddings = n.TieWordEmbeddings != 0,
        ParameterCount = n.NParams,
        WeightBytes = n.WeightBytes,
        WeightDtype = (JetWeightDtype)n.WeightDtype,
        WeightGroupSize = n.WeightGroupSize,
        Layers = layers,
    };
}
