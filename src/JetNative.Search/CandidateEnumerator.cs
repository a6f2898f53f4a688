using JetNative.Search.Accounting;

namespace JetNative.Search;

/// <summary>
/// Lists the JetBlock (dK, dV, H) candidates of a base config that meet a cache constraint: for each
/// head count and key dim of the space, the largest value dim (a multiple of the step) whose cache
/// stays within the constraint, kept when it also reaches the constraint's lower bound.
/// </summary>
public static class CandidateEnumerator
{
    /// <summary>The candidates, the base's own JetBlock first when it meets the constraint, then by heads and key dim.</summary>
    public static IReadOnlyList<JetBlockDims> Enumerate(ModelShape baseShape, SearchSpace space, SearchConstraint constraint,
        long context, JetDevice device)
    {
        ArgumentNullException.ThrowIfNull(baseShape);
        ArgumentNullException.ThrowIfNull(space);
        ArgumentNullException.ThrowIfNull(constraint);
        if (baseShape.Info.JetLayerCount == 0) throw SearchConstraint.NoJetBlocks();
        space.Validate();
        CheckFeasible(baseShape, constraint, context, device);

        var found = new List<JetBlockDims>();
        if (Meets(baseShape, baseShape.JetBlock, constraint, context, device)) found.Add(baseShape.JetBlock);
        foreach (int h in space.JetNumHeads.Distinct().Order())
        {
            foreach (int dk in space.JetHeadKDims.Distinct().Order())
            {
                JetBlockDims? best = null;
                int first = (space.MinJetHeadVDim + space.JetHeadVDimStep - 1) / space.JetHeadVDimStep * space.JetHeadVDimStep;
                for (int dv = first; dv <= space.MaxJetHeadVDim; dv += space.JetHeadVDimStep)
                {
                    var dims = new JetBlockDims(dk, dv, h);
                    // Dims the engine refuses (e.g. a value dim the generator reduction does not divide) are skipped.
                    if (constraint.Measure(baseShape, dims, context, device) is not long m) continue;
                    if (m > constraint.Target) break;
                    best = dims;
                }
                if (best is JetBlockDims b && !found.Contains(b) && Meets(baseShape, b, constraint, context, device))
                    found.Add(b);
            }
        }
        if (found.Count == 0)
            throw new ArgumentException($"no JetBlock in the search space meets the constraint ({constraint}): " +
                $"heads {string.Join(",", space.JetNumHeads)}, key dims {string.Join(",", space.JetHeadKDims)}, " +
                $"value dims {space.MinJetHeadVDim}..{space.MaxJetHeadVDim} step {space.JetHeadVDimStep}; widen the space or the tolerance");
        return found;
    }

    /// <summary>Checks explicit candidates against the constraint; throws naming the first that misses it.</summary>
    public static IReadOnlyList<JetBlockDims> Check(ModelShape baseShape, IEnumerable<JetBlockDims> candidates, SearchConstraint constraint,
        long context, JetDevice device)
    {
        ArgumentNullException.ThrowIfNull(baseShape);
        if (baseShape.Info.JetLayerCount == 0) throw SearchConstraint.NoJetBlocks();
        CheckFeasible(baseShape, constraint, context, device);
        var list = candidates.Distinct().ToList();
        if (list.Count == 0) throw new ArgumentException("the candidate list is empty");
        foreach (JetBlockDims c in list)
        {
            ModelShape s = baseShape.WithJetBlock(c);
            long m = constraint.Measure(s, context, device);
            if (!constraint.Accepts(m))
                throw new ArgumentException($"candidate {c} does not meet the constraint ({constraint}): it has " +
                    (constraint.Kind == SearchConstraintKind.StateSize ? $"{m:N0} elements" : ByteSize.Mebibytes(m)) +
                    " (loosen it with --tolerance or --budget)");
        }
        return list;
    }

    private static bool Meets(ModelShape baseShape, JetBlockDims dims, SearchConstraint c, long context, JetDevice device) =>
        c.Measure(baseShape, dims, context, device) is long m && c.Accepts(m);

    /// <summary>A budget below what the layers other than JetBlocks need can never be met: say so plainly.</summary>
    private static void CheckFeasible(ModelShape baseShape, SearchConstraint constraint, long context, JetDevice device)
    {
        if (constraint.Target <= 0) throw new ArgumentException($"the constraint's target must be > 0, not {constraint.Target}");
        if (!(constraint.Tolerance >= 0 && constraint.Tolerance < 1)) throw new ArgumentException($"the tolerance must be in [0, 1), not {constraint.Tolerance}");
        if (constraint.Kind != SearchConstraintKind.CacheBudget) return;
        JetCacheBreakdown b = CacheAccounting.PerSequence(baseShape, context, device);
        long fixedPart = b.AttentionKv + b.SlidingWindowKv;
        if (constraint.Target <= fixedPart)
            throw new ArgumentException($"impossible budget: {ByteSize.Mebibytes(constraint.Target)} per sequence is not more than the " +
                $"{ByteSize.Mebibytes(fixedPart)} that the attention layers alone need at {context} tokens (on {device})");
    }
}
