namespace JetNative;

/// <summary>What the engine reports about a loaded model (jet_model_get_info) and its layer map.</summary>
public sealed record JetModelInfo
{
    public JetDevice Device { get; init; }
    public int VocabSize { get; init; }
    public int HiddenSize { get; init; }
    public int NumLayers { get; init; }
    public int IntermediateSize { get; init; }
    public int NumAttentionHeads { get; init; }
    public int NumKeyValueHeads { get; init; }
    /// <summary>Attention head dimension.</summary>
    public int HeadDim { get; init; }
    public int MaxPositionEmbeddings { get; init; }
    /// <summary>Sliding window of the swa layers; 0 when there is none.</summary>
    public int SlidingWindow { get; init; }
    /// <summary>JetBlock heads; 0 when there is no JetBlock.</summary>
    public int JetNumHeads { get; init; }
    public int JetHeadKeyDim { get; init; }
    public int JetHeadValueDim { get; init; }
    public int JetConvSize { get; init; }
    public int AttentionLayerCount { get; init; }
    public int SlidingWindowLayerCount { get; init; }
    public int JetLayerCount { get; init; }
    /// <summary>Null when the config has none.</summary>
    public int? BosTokenId { get; init; }
    /// <summary>Null when the config has none.</summary>
    public int? EosTokenId { get; init; }
    public bool TieWordEmbeddings { get; init; }
    /// <summary>Parameters (a tied embedding counted once).</summary>
    public long ParameterCount { get; init; }
    /// <summary>Bytes the weights occupy on the model's device.</summary>
    public long WeightBytes { get; init; }
    /// <summary>The mixer of each layer, in order.</summary>
    public IReadOnlyList<JetLayerType> Layers { get; init; } = [];
}
