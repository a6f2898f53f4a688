using JetNative.Search.Accounting;
using JetNative.Search;
using Xunit;

namespace JetNative.Tests.Search;

public sealed class SearchCsvTests
{
    [Fact]
    public void Writes_one_line_per_candidate_with_quoted_errors()
    {
        var rows = new[]
        {
            new SearchResult
            {
                Dims = new(96, 256, 12), IsBase = true, Parameters = 123,
                Cache = new JetCacheBreakdown(JetDevice.Cuda, 64, 10, 20, 30, 40, 100, 0),
                Throughput = new Throughput(new Rate(1000.5, 1.26), new Rate(50.126, 0.5)),
                PrefillRelative = 1, DecodeRelative = 1, OnParetoFront = true,
            },
            new SearchResult { Dims = new(192, 192, 8), Cache = new JetCacheBreakdown(JetDevice.Cuda, 64, 1, 1, 1, 1, 4, 0), Error = "dK=192, unsupported" },
        };
        string[] lines = SearchCsv.Write(rows, JetDevice.Cuda).TrimEnd('\n').Split('\n');
        Assert.Equal(SearchCsv.Header, lines[0]);
        Assert.Equal("96,256,12,1,123,30,40,100,0.000,64,cuda,1000.5,1.3,50.13,0.50,1.0000,1.0000,1,", lines[1]);
        Assert.Equal("192,192,8,0,0,1,1,4,0.000,64,cuda,,,,,,,0,\"dK=192, unsupported\"", lines[2]);
        Assert.Equal(SearchCsv.Header.Split(',').Length, lines[1].Split(',').Length);

        var (back, device) = SearchCsv.Read(string.Join('\n', lines));
        Assert.Equal(JetDevice.Cuda, device);
        Assert.Equal(rows.Select(r => (r.Dims, r.IsBase, r.Parameters, r.Cache.Total, r.OnParetoFront, r.Error)),
            back.Select(r => (r.Dims, r.IsBase, r.Parameters, r.Cache.Total, r.OnParetoFront, r.Error)));
        Assert.Equal(1000.5, back[0].Throughput!.Prefill.Mean);
        Assert.Null(back[1].Throughput);
    }

    [Theory]
    [InlineData("a,b,c\n1,2,3")]
    [InlineData(SearchCsv.Header + "\n1,2,3")]
    [InlineData(SearchCsv.Header + "\nx,256,12,1,123,30,40,100,0.000,64,cuda,,,,,,,0,")]
    public void Reading_something_else_is_a_clear_error(string csv) =>
        Assert.Throws<InvalidDataException>(() => SearchCsv.Read(csv));
}
