using JetNative.Search.Accounting;

namespace JetNative.Search;

/// <summary>What to search: the base config, the constraint, the space (or explicit candidates), how to time, where.</summary>
public sealed record SearchOptions
{
    /// <summary>The base config.json text (default: Jet-Nemotron-2B's).</summary>
    public string BaseConfigJson { get; init; } = JetNemotronConfigs.Jet2B;
    /// <summary>Null: the base's recurrent state size, exactly (the paper's setting).</summary>
    public SearchConstraint? Constraint { get; init; }
    /// <summary>The JetBlock shapes to enumerate (when <see cref="Candidates"/> is null).</summary>
    public SearchSpace Space { get; init; } = new();
    /// <summary>When set, these candidates (checked against the constraint) instead of enumerating the space.</summary>
    public IReadOnlyList<JetBlockDims>? Candidates { get; init; }
    /// <summary>How each candidate is timed.</summary>
    public MeasureSettings Measure { get; init; } = new();
    /// <summary>Device and threads of the random-weight models.</summary>
    public JetModelOptions Model { get; init; } = new();
    /// <summary>Seed of the random weights.</summary>
    public ulong Seed { get; init; } = 1;
}

/// <summary>A search ready to run: the base, its constraint and the candidates (the base's JetBlock always first).</summary>
public sealed record SearchPlan(string BaseConfigJson, ModelShape Base, SearchConstraint Constraint, JetDevice Device,
    IReadOnlyList<JetBlockDims> Candidates, MeasureSettings Measure, JetModelOptions Model, ulong Seed);

/// <summary>Where a running search is: candidate <see cref="Index"/> of <see cref="Count"/>, and the fraction done overall.</summary>
public sealed record SearchProgress(int Index, int Count, JetBlockDims Dims, string Stage, float Fraction, SearchResult? Result = null);

/// <summary>
/// PostNAS step 4 as a tool: JetBlock (dK, dV, H) candidates at a fixed cache size, each built as a
/// random-weight model of the base config and timed on the chosen device (prefill and decode at
/// the context), with the Pareto front of (parameters, prefill, decode) marked.
/// </summary>
public static class ArchitectureSearch
{
    /// <summary>Validates the options and lists the candidates; nothing is built yet.</summary>
    public static SearchPlan Plan(SearchOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Measure.Validate();
        ModelShape shape = ModelShape.FromConfigJson(options.BaseConfigJson);
        if (shape.Info.JetLayerCount == 0) throw SearchConstraint.NoJetBlocks();
        if (options.Measure.SessionContext > shape.Info.MaxPositionEmbeddings)
            throw new ArgumentException($"context {options.Measure.Context} + {options.Measure.DecodeTokens} decode tokens is more than the base " +
                $"config's max_position_embeddings ({shape.Info.MaxPositionEmbeddings})");
        JetDevice device = options.Model.Device;
        SearchConstraint constraint = options.Constraint ?? SearchConstraint.SameStateAs(shape);
        long context = options.Measure.Context;
        IReadOnlyList<JetBlockDims> candidates = options.Candidates is { } explicitList
            ? CandidateEnumerator.Check(shape, explicitList, constraint, context, device)
            : CandidateEnumerator.Enumerate(shape, options.Space, constraint, context, device);
        var ordered = new List<JetBlockDims> { shape.JetBlock };
        ordered.AddRange(candidates.Where(c => c != shape.JetBlock));
        return new SearchPlan(options.BaseConfigJson, shape, constraint, device, ordered, options.Measure, options.Model, options.Seed);
    }

    /// <summary>The rows of the plan with sizes and cache figures only (a dry run).</summary>
    public static IReadOnlyList<SearchResult> Describe(SearchPlan plan) =>
        plan.Candidates.Select(c => Row(plan, c)).ToList();

    /// <summary>Builds and times every candidate in turn. A candidate the engine refuses (unsupported dims, no memory) gets its error in its row.</summary>
    public static IReadOnlyList<SearchResult> Run(SearchPlan plan, IProgress<SearchProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var rows = new List<SearchResult>();
        int count = plan.Candidates.Count;
        for (int i = 0; i < count; i++)
        {
            cancellationToken.ThrowIfCancellationRequested();
            JetBlockDims dims = plan.Candidates[i];
            SearchResult row = Row(plan, dims);
            progress?.Report(new SearchProgress(i, count, dims, "building", (float)i / count));
            try
            {
                string config = ModelShape.WithJetBlock(plan.BaseConfigJson, dims);
                using JetModel model = JetModel.CreateRandom(config, plan.Seed, plan.Model);
                int index = i;
                Throughput t = ThroughputMeter.Measure(model, plan.Measure, new SyncProgress(f =>
                    progress?.Report(new SearchProgress(index, count, dims, "measuring", (index + f) / count))), cancellationToken);
                row = row with { Throughput = t, Parameters = model.Info.ParameterCount };
            }
            catch (JetException e)
            {
                row = row with { Error = e.Message };
            }
            rows.Add(row);
            progress?.Report(new SearchProgress(i, count, dims, "done", (i + 1f) / count, row));
        }
        return Finish(rows);
    }

    /// <summary>Adds the relative columns (against the base row) and the Pareto front.</summary>
    public static IReadOnlyList<SearchResult> Finish(IReadOnlyList<SearchResult> rows)
    {
        Throughput? b = rows.FirstOrDefault(r => r.IsBase)?.Throughput;
        var withRelative = rows.Select(r => r with
        {
            PrefillRelative = b is not null && r.Throughput is not null ? r.Throughput.Prefill.Mean / b.Prefill.Mean : null,
            DecodeRelative = b is not null && r.Throughput is not null ? r.Throughput.Decode.Mean / b.Decode.Mean : null,
        }).ToList();
        return ParetoFront.Mark(withRelative);
    }

    private static SearchResult Row(SearchPlan plan, JetBlockDims dims)
    {
        ModelShape s = plan.Base.WithJetBlock(dims);
        return new SearchResult
        {
            Dims = dims,
            IsBase = dims == plan.Base.JetBlock,
            Parameters = s.ParameterCount,
            Cache = CacheAccounting.PerSequence(s, plan.Measure.Context, plan.Device),
        };
    }

    /// <summary>An IProgress that reports on the calling thread (Progress&lt;T&gt; would post to the thread pool, out of order).</summary>
    private sealed class SyncProgress(Action<float> report) : IProgress<float>
    {
        public void Report(float value) => report(value);
    }
}
