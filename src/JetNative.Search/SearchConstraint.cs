using JetNative.Search.Accounting;

namespace JetNative.Search;

/// <summary>What a candidate JetBlock must keep fixed (PostNAS step 4 searches at a fixed cache size).</summary>
public enum SearchConstraintKind
{
    /// <summary>The JetBlock recurrent state H*dK*dV equals the target (within the tolerance, never above).</summary>
    StateSize,

    /// <summary>The whole cache of one sequence at the context is at most the target and at least (1 - tolerance) of it.</summary>
    CacheBudget,
}

/// <summary>A fixed cache size: <see cref="Target"/> elements (state) or bytes (cache budget).</summary>
public sealed record SearchConstraint(SearchConstraintKind Kind, long Target, double Tolerance)
{
    /// <summary>Same recurrent state as the base's JetBlock (the paper's setting), exactly by default.</summary>
    public static SearchConstraint SameStateAs(ModelShape shape, double tolerance = 0)
    {
        ArgumentNullException.ThrowIfNull(shape);
        if (shape.Info.JetLayerCount == 0) throw NoJetBlocks();
        return new(SearchConstraintKind.StateSize, shape.JetBlock.StateElements, tolerance);
    }

    /// <summary>A budget in bytes for one sequence's whole cache at the search's context.</summary>
    public static SearchConstraint Budget(long bytes, double tolerance = 0.05) => new(SearchConstraintKind.CacheBudget, bytes, tolerance);

    /// <summary>The measure the constraint compares with <see cref="Target"/>.</summary>
    public long Measure(ModelShape shape, long context, JetDevice device) => Kind == SearchConstraintKind.StateSize
        ? shape.JetBlock.StateElements
        : CacheAccounting.PerSequence(shape, context, device).Total;

    /// <summary>The measure of <paramref name="baseShape"/> with the JetBlock <paramref name="dims"/>; null when the engine refuses those dims.</summary>
    public long? Measure(ModelShape baseShape, JetBlockDims dims, long context, JetDevice device) =>
        baseShape.TryWithJetBlock(dims) is ModelShape s ? Measure(s, context, device) : null;

    /// <summary>True when the value is within [(1 - tolerance) * target, target].</summary>
    public bool Accepts(long measure) => measure <= Target && measure >= (long)Math.Ceiling(Target * (1 - Tolerance) - 1e-9);

    /// <summary>The constraint in words, e.g. "cache &lt;= 64 MiB per sequence".</summary>
    public override string ToString() => Kind == SearchConstraintKind.StateSize
        ? $"recurrent state H*dK*dV = {Target:N0} elements per layer" + (Tolerance > 0 ? $" (-{Tolerance:P0})" : "")
        : $"cache <= {ByteSize.Mebibytes(Target)} per sequence" + (Tolerance > 0 ? $" (down to -{Tolerance:P0})" : "");

    internal static ArgumentException NoJetBlocks() =>
        new("the base config has no JetBlock layers (layer_types has no \"jet\"): there is nothing to search");
}
