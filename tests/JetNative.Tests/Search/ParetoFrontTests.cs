using JetNative.Search.Accounting;
using JetNative.Search;
using Xunit;

namespace JetNative.Tests.Search;

public sealed class ParetoFrontTests
{
    [Fact]
    public void Marks_the_non_dominated_points()
    {
        var points = new List<double[]> { new[] { 1.0, 5.0 }, new[] { 2.0, 4.0 }, new[] { 1.5, 3.0 }, new[] { 2.0, 4.0 }, new[] { 0.5, 5.0 } };
        // (1.5,3) is dominated by (2,4); (0.5,5) by (1,5); equal points do not dominate each other.
        Assert.Equal([true, true, false, true, false], ParetoFront.Of(points));
    }

    [Fact]
    public void A_single_point_is_on_the_front() => Assert.Equal([true], ParetoFront.Of([new[] { 1.0 }]));

    [Fact]
    public void Unmeasured_rows_are_never_on_the_front_and_relative_columns_use_the_base()
    {
        static SearchResult Row(string dims, long parameters, double prefill, double decode, bool isBase = false) => new()
        {
            Dims = JetBlockDims.Parse(dims), IsBase = isBase, Parameters = parameters,
            Throughput = prefill > 0 ? new Throughput(new Rate(prefill, 0), new Rate(decode, 0)) : null,
            Error = prefill > 0 ? null : "unsupported",
        };
        var rows = ArchitectureSearch.Finish(
        [
            Row("96/256/12", 100, 1000, 50, isBase: true),
            Row("192/192/8", 90, 1100, 55),
            Row("64/64/8", 80, 900, 45),   // dominated by both
            Row("256/288/4", 70, 0, 0),    // failed
        ]);
        Assert.Equal([true, true, false, false], rows.Select(r => r.OnParetoFront));
        Assert.Equal(1.0, rows[0].PrefillRelative);
        Assert.Equal(1.1, rows[1].DecodeRelative!.Value, 9);
        Assert.Null(rows[3].DecodeRelative);
    }
}
