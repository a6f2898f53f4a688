using JetNative.Cli;
using JetNative.Cli.Commands;
using Xunit;

namespace JetNative.Tests.Cli;

public sealed class BenchStatsTests
{
    [Fact]
    public void MeanAndSampleStandardDeviation()
    {
        var s = BenchStats.Of([2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]);
        Assert.Equal(5.0, s.Mean, 12);
        Assert.Equal(Math.Sqrt(32.0 / 7.0), s.StdDev, 12);
        Assert.Equal("5.00 ± 2.14", s.ToString());
    }

    [Fact]
    public void OneRunHasZeroDeviation() => Assert.Equal("12.35 ± 0.00", BenchStats.Of([12.345]).ToString());

    [Fact]
    public void ContextCoversTheLargestTest()
    {
        Assert.Equal(512, new BenchPlan(512, 128, 0, 1, 1).Context);
        Assert.Equal(4096 + 128, new BenchPlan(512, 128, 4096, 1, 1).Context);
        var tooLong = new BenchPlan(512, 128, 4096, 1, 1);
        Assert.Throws<UsageException>(() => tooLong.CheckFits(1024));
        (tooLong with { AllowLongContext = true }).CheckFits(1024); // --allow-long-context: the engine warns instead
    }
}
