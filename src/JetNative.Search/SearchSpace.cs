namespace JetNative.Search;

/// <summary>
/// The JetBlock shapes the search may try: head counts and key dims from lists, value dims as
/// multiples of <see cref="JetHeadVDimStep"/> in [<see cref="MinJetHeadVDim"/>, <see cref="MaxJetHeadVDim"/>].
/// For each (heads, key dim) the enumerator takes the largest value dim the constraint allows.
/// </summary>
public sealed record SearchSpace
{
    /// <summary>JetBlock head counts H (jet_num_heads) to try.</summary>
    public IReadOnlyList<int> JetNumHeads { get; init; } = [4, 6, 8, 12, 16, 24];
    /// <summary>Key dims per head dK (jet_head_k_dim) to try.</summary>
    public IReadOnlyList<int> JetHeadKDims { get; init; } = [64, 96, 128, 192, 256];
    /// <summary>Value dims per head dV (jet_head_v_dim) are multiples of this.</summary>
    public int JetHeadVDimStep { get; init; } = 16;
    /// <summary>The smallest value dim per head tried.</summary>
    public int MinJetHeadVDim { get; init; } = 32;
    /// <summary>The largest value dim per head tried.</summary>
    public int MaxJetHeadVDim { get; init; } = 1024;

    internal void Validate()
    {
        if (JetNumHeads.Count == 0 || JetNumHeads.Any(h => h < 1)) throw new ArgumentException("the head counts must be a non-empty list of positive integers");
        if (JetHeadKDims.Count == 0 || JetHeadKDims.Any(k => k < 1)) throw new ArgumentException("the key dims must be a non-empty list of positive integers");
        if (JetHeadVDimStep < 1) throw new ArgumentException($"the value dim step must be >= 1, not {JetHeadVDimStep}");
        if (MinJetHeadVDim < 1 || MaxJetHeadVDim < MinJetHeadVDim)
            throw new ArgumentException($"the value dim range [{MinJetHeadVDim}, {MaxJetHeadVDim}] is empty");
    }
}
