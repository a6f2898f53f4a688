using JetNative.Cli.Serving;
using Xunit;

namespace JetNative.Tests.Cli.Serving;

public sealed class LatencyStatsTests
{
    [Fact]
    public void Percentiles_interpolate_linearly_like_numpy()
    {
        // numpy: np.percentile([1,2,3,4], [50, 99]) = [2.5, 3.97]; np.std = 1.118034
        LatencyStats s = LatencyStats.Of([4, 1, 3, 2]);
        Assert.Equal(2.5, s.Mean, 12);
        Assert.Equal(2.5, s.Median, 12);
        Assert.Equal(3.97, s.P99, 12);
        Assert.Equal(Math.Sqrt(1.25), s.StdDev, 12);
        Assert.Equal(4, s.Count);

        // np.percentile([15,20,35,40,50], [50, 99]) = [35, 49.6]
        LatencyStats t = LatencyStats.Of([50, 15, 40, 20, 35]);
        Assert.Equal(35, t.Median, 12);
        Assert.Equal(49.6, t.P99, 12);
        Assert.Equal(32, t.Mean, 12);
    }

    [Fact]
    public void One_value_is_every_statistic_and_none_is_all_zero()
    {
        LatencyStats one = LatencyStats.Of([7.5]);
        Assert.Equal((7.5, 7.5, 7.5, 0.0), (one.Mean, one.Median, one.P99, one.StdDev));
        Assert.Equal(LatencyStats.Empty, LatencyStats.Of([]));
        Assert.Equal(0, LatencyStats.Of([]).Count);
    }

    [Fact]
    public void Percentile_bounds_are_the_extremes_and_bad_ranks_throw()
    {
        double[] sorted = [1, 5, 9];
        Assert.Equal(1, LatencyStats.Percentile(sorted, 0));
        Assert.Equal(9, LatencyStats.Percentile(sorted, 100));
        Assert.Equal(7, LatencyStats.Percentile(sorted, 75));
        Assert.Throws<ArgumentOutOfRangeException>(() => LatencyStats.Percentile(sorted, 101));
        Assert.Throws<ArgumentException>(() => LatencyStats.Percentile([], 50));
    }
}
