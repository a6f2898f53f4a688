namespace JetNative.Search;

/// <summary>
/// The JetBlock shapes the search may try: head counts and key dims from lists, value dims as
/// multiples of <see cref="ValueDimStep"/> in [<see cref="MinValueDim"/>, <see cref="MaxValueDim"/>].
/// For each (heads, key dim) the enumerator takes the largest value dim the constraint allows.
/// </summary>
public sealed record SearchSpace
{
    /// <summary>JetBlock head counts to try.</summary>
    public IReadOnlyList<int> Heads { get; init; } = [4, 6, 8, 12, 16, 24];
    /// <summary>Key dims per head to try.</summary>
    public IReadOnlyList<int> KeyDims { get; init; } = [64, 96, 128, 192, 256];
    /// <summary>Value dims are multiples of this.</summary>
    public int ValueDimStep { get; init; } = 16;
    /// <summary>Smallest value dim per head.</summary>
    public int MinValueDim { get; init; } = 32;
    /// <summary>Largest value dim per head.</summary>
    public int MaxValueDim { get; init; } = 1024;

    internal void Validate()
    {
        if (Heads.Count == 0 || Heads.Any(h => h < 1)) throw new ArgumentException("the head counts must be a non-empty list of positive integers");
        if (KeyDims.Count == 0 || KeyDims.Any(k => k < 1)) throw new ArgumentException("the key dims must be a non-empty list of positive integers");
        if (ValueDimStep < 1) throw new ArgumentException($"the value dim step must be >= 1, not {ValueDimStep}");
        if (MinValueDim < 1 || MaxValueDim < MinValueDim)
            throw new ArgumentException($"the value dim range [{MinValueDim}, {MaxValueDim}] is empty");
    }
}
