using JetNative.Search.Accounting;

namespace JetNative.Search;

/// <summary>One row of a search: a JetBlock candidate, its size and cache, and what was measured.</summary>
public sealed record SearchResult
{
    /// <summary>The candidate JetBlock's (dK, dV, H).</summary>
    public required JetBlockDims Dims { get; init; }
    /// <summary>True for the base config's own JetBlock (the reference of the relative columns).</summary>
    public bool IsBase { get; init; }
    /// <summary>Parameters of the whole model with this JetBlock.</summary>
    public long Parameters { get; init; }
    /// <summary>Cache of one sequence at the search's context, by part.</summary>
    public JetCacheBreakdown Cache { get; init; }
    /// <summary>Null when not measured (a dry run) or when measuring failed (<see cref="Error"/>).</summary>
    public Throughput? Throughput { get; init; }
    /// <summary>Why the candidate could not be built or measured (e.g. the engine does not support its dims).</summary>
    public string? Error { get; init; }
    /// <summary>Prefill tok/s relative to the base (null when either was not measured).</summary>
    public double? PrefillRelative { get; init; }
    /// <summary>Decode tok/s relative to the base (null when either was not measured).</summary>
    public double? DecodeRelative { get; init; }
    /// <summary>On the Pareto front of (parameters, prefill tok/s, decode tok/s).</summary>
    public bool OnParetoFront { get; init; }
}
