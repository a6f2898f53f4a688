using JetNative.Search.Accounting;
using Xunit;

namespace JetNative.Tests.Search.Accounting;

public sealed class ByteSizeTests
{
    [Theory]
    [InlineData("4096", 4096L)]
    [InlineData("158MiB", 158L * 1024 * 1024)]
    [InlineData("80 GiB", 80L << 30)]
    [InlineData("1.5GB", 1_500_000_000L)]
    [InlineData("2k", 2048L)]
    public void Parses_sizes(string text, long bytes) => Assert.Equal(bytes, ByteSize.Parse(text));

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("-5MiB")]
    [InlineData("lots")]
    public void Bad_sizes_are_refused(string text) => Assert.Throws<FormatException>(() => ByteSize.Parse(text));
}
