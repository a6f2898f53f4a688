using JetNative.Search.Accounting;
using JetNative.Search;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Search;

public sealed class ThroughputMeterTests
{
    [Fact]
    public void Measures_positive_rates_with_a_warm_up_and_repetitions()
    {
        using JetModel model = TestModels.Random();
        var reports = new List<float>();
        var t = ThroughputMeter.Measure(model, new MeasureSettings { Context = 16, DecodeTokens = 2, Batch = 2, Repetitions = 2, WarmupTokens = 4 },
            new ListProgress(reports));
        Assert.True(t.Prefill.Mean > 0 && t.Decode.Mean > 0);
        Assert.Equal(3, reports.Count); // warm-up + 2 repetitions
        Assert.Equal(1f, reports[^1]);
    }

    [Fact]
    public void A_context_beyond_the_models_positions_is_refused()
    {
        using JetModel model = TestModels.Random();
        var e = Assert.Throws<ArgumentException>(() => ThroughputMeter.Measure(model, new MeasureSettings { Context = model.Info.MaxPositionEmbeddings }));
        Assert.Contains("max_position_embeddings", e.Message);
        Assert.Throws<ArgumentException>(() => ThroughputMeter.Measure(model, new MeasureSettings { Repetitions = 0 }));
    }

    [Fact]
    public void A_search_on_tiny_jet_b_measures_every_candidate()
    {
        string json = File.ReadAllText(Path.Combine(TestModels.TinyJetB, "config.json"));
        SearchPlan plan = ArchitectureSearch.Plan(new SearchOptions
        {
            BaseConfigJson = json,
            Candidates = [new JetBlockDims(24, 48, 3), new JetBlockDims(48, 24, 3)],
            Measure = new MeasureSettings { Context = 8, DecodeTokens = 2, Repetitions = 1, WarmupTokens = 4 },
            Model = new JetModelOptions { Threads = 2 },
        });
        Assert.Equal(JetDevice.Cpu, plan.Device);
        var rows = ArchitectureSearch.Run(plan);
        Assert.Equal(2, rows.Count); // the base (24/48/3) once, first
        Assert.True(rows[0].IsBase);
        Assert.All(rows, r => Assert.True(r.Throughput is not null, r.Error));
        Assert.Equal(1.0, rows[0].DecodeRelative);
        Assert.Contains(rows, r => r.OnParetoFront);
    }

    private sealed class ListProgress(List<float> list) : IProgress<float>
    {
        public void Report(float value) => list.Add(value);
    }
}
