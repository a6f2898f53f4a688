namespace JetNative.Search;

/// <summary>
/// The Pareto front of measured candidates when every objective is to be maximised: a point is on
/// the front when no other point is at least as good in every objective and better in one.
/// </summary>
public static class ParetoFront
{
    /// <summary>For each point (a vector of objectives, all maximised), whether it is on the front.</summary>
    public static bool[] Of(IReadOnlyList<double[]> points)
    {
        ArgumentNullException.ThrowIfNull(points);
        var front = new bool[points.Count];
        for (int i = 0; i < points.Count; i++)
        {
            front[i] = true;
            for (int j = 0; j < points.Count && front[i]; j++)
                if (j != i && Dominates(points[j], points[i])) front[i] = false;
        }
        return front;
    }

    /// <summary>True when <paramref name="a"/> is at least as good as <paramref name="b"/> everywhere and better somewhere.</summary>
    public static bool Dominates(double[] a, double[] b)
    {
        if (a.Length != b.Length) throw new ArgumentException("points of different dimensions");
        bool better = false;
        for (int k = 0; k < a.Length; k++)
        {
            if (a[k] < b[k]) return false;
            if (a[k] > b[k]) better = true;
        }
        return better;
    }

    /// <summary>Marks the front among the measured results (parameters, prefill, decode); unmeasured rows are never on it.</summary>
    public static IReadOnlyList<SearchResult> Mark(IReadOnlyList<SearchResult> results)
    {
        var measured = results.Select((r, i) => (r, i)).Where(x => x.r.Throughput is not null).ToList();
        bool[] front = Of(measured.Select(x => new[] { (double)x.r.Parameters, x.r.Throughput!.Prefill.Mean, x.r.Throughput.Decode.Mean }).ToList());
        var marked = results.Select(r => r with { OnParetoFront = false }).ToArray();
        for (int k = 0; k < measured.Count; k++) marked[measured[k].i] = marked[measured[k].i] with { OnParetoFront = front[k] };
        return marked;
    }
}
