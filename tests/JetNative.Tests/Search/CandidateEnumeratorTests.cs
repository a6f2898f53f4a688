using JetNative.Search.Accounting;
using JetNative.Search;
using Xunit;

namespace JetNative.Tests.Search;

public sealed class CandidateEnumeratorTests
{
    private static readonly ModelShape Jet2B = ModelShape.FromConfigJson(JetNemotronConfigs.Jet2B);

    private static IReadOnlyList<JetBlockDims> Enumerate(SearchConstraint c, SearchSpace? space = null, long context = 65536) =>
        CandidateEnumerator.Enumerate(Jet2B, space ?? new SearchSpace(), c, context, JetDevice.Cuda);

    [Fact]
    public void The_2B_at_its_own_state_size_gives_the_papers_configurations()
    {
        var found = Enumerate(SearchConstraint.SameStateAs(Jet2B));
        Assert.Equal(new JetBlockDims(96, 256, 12), found[0]);
        // The paper's table of step 4 (all at H*dK*dV = 294,912):
        foreach (string paper in new[] { "256/288/4", "192/384/4", "128/576/4", "256/144/8", "192/192/8", "128/288/8", "128/192/12", "96/256/12" })
            Assert.Contains(JetBlockDims.Parse(paper), found);
        Assert.All(found, d => Assert.Equal(294_912L, d.StateElements));
        Assert.All(found, d => Assert.Equal(0, d.JetHeadVDim % 16));
        Assert.All(found, d => Assert.Equal(0, d.JetNumHeads * d.JetHeadVDim % 8));
        Assert.Equal(found.Count, found.Distinct().Count());
        // By hand: of 6 head counts x 5 key dims, dV = 294912 / (H dK) is a multiple of 16 in [32, 1024]
        // except 64/1152/4 (too large) and 256/72/16 (not a multiple of 16); 256/48/24 is kept.
        Assert.Equal(28, found.Count);
    }

    [Fact]
    public void A_small_space_is_enumerated_exactly()
    {
        var space = new SearchSpace { JetNumHeads = [8, 12], JetHeadKDims = [96, 192] };
        var found = Enumerate(SearchConstraint.SameStateAs(Jet2B), space);
        Assert.Equal(["96/256/12", "96/384/8", "192/192/8", "192/128/12"], found.Select(d => d.ToString()));
    }

    [Fact]
    public void A_tolerance_admits_the_largest_value_dim_below_the_target()
    {
        // H=5, dK=96: exact dV would be 614.4; with 5% tolerance the largest multiple of 16 below is 608 (-1%).
        var space = new SearchSpace { JetNumHeads = [5], JetHeadKDims = [96] };
        Assert.Equal([new JetBlockDims(96, 256, 12)], Enumerate(SearchConstraint.SameStateAs(Jet2B), space)); // only the base
        var found = Enumerate(SearchConstraint.SameStateAs(Jet2B, 0.05), space);
        Assert.Contains(new JetBlockDims(96, 608, 5), found);
    }

    [Fact]
    public void A_cache_budget_keeps_every_candidate_within_it()
    {
        long budget = CacheAccounting.PerSequence(Jet2B, 65536, JetDevice.Cuda).Total;
        var c = SearchConstraint.Budget(budget, 0.02);
        var found = Enumerate(c);
        Assert.Contains(Jet2B.JetBlock, found);
        Assert.All(found, d =>
        {
            long total = CacheAccounting.PerSequence(Jet2B.WithJetBlock(d), 65536, JetDevice.Cuda).Total;
            Assert.InRange(total, (long)(budget * 0.98), budget);
        });
    }

    [Fact]
    public void An_impossible_budget_is_refused_with_the_reason()
    {
        // The attention layers alone need 130.25 MiB at 64K: a 100 MiB budget cannot be met.
        var e = Assert.Throws<ArgumentException>(() => Enumerate(SearchConstraint.Budget(100L << 20)));
        Assert.Contains("impossible budget", e.Message);
        Assert.Contains("130.25 MiB", e.Message);
        // Just above that, no JetBlock of the space is small enough.
        var none = Assert.Throws<ArgumentException>(() => Enumerate(SearchConstraint.Budget((130L << 20) + (300 << 10))));
        Assert.Contains("no JetBlock", none.Message);
    }

    [Fact]
    public void A_config_without_jetblocks_is_refused()
    {
        string json = JetNemotronConfigs.Jet2B.Replace("\"jet\",", "\"attn\",").Replace("\"jet\"\n", "\"attn\"\n");
        ModelShape noJet = ModelShape.FromConfigJson(json);
        Assert.Equal(0, noJet.Info.JetLayerCount);
        var e = Assert.Throws<ArgumentException>(() => CandidateEnumerator.Enumerate(noJet, new SearchSpace(), SearchConstraint.Budget(1L << 40), 1024, JetDevice.Cuda));
        Assert.Contains("no JetBlock", e.Message);
        Assert.Throws<ArgumentException>(() => SearchConstraint.SameStateAs(noJet));
    }

    [Fact]
    public void Explicit_candidates_are_checked_against_the_constraint()
    {
        var c = SearchConstraint.SameStateAs(Jet2B);
        var ok = CandidateEnumerator.Check(Jet2B, [new(96, 256, 12), new(192, 192, 8)], c, 65536, JetDevice.Cuda);
        Assert.Equal(2, ok.Count);
        var e = Assert.Throws<ArgumentException>(() => CandidateEnumerator.Check(Jet2B, [new(128, 256, 12)], c, 65536, JetDevice.Cuda));
        Assert.Contains("128/256/12", e.Message);
    }

    [Fact]
    public void Bad_spaces_are_refused()
    {
        var c = SearchConstraint.SameStateAs(Jet2B);
        Assert.Throws<ArgumentException>(() => Enumerate(c, new SearchSpace { JetNumHeads = [] }));
        Assert.Throws<ArgumentException>(() => Enumerate(c, new SearchSpace { JetHeadKDims = [0] }));
        Assert.Throws<ArgumentException>(() => Enumerate(c, new SearchSpace { MinJetHeadVDim = 64, MaxJetHeadVDim = 32 }));
        Assert.Throws<ArgumentException>(() => Enumerate(c with { Tolerance = 1.5 }));
    }
}
