using JetNative.Tokenization;
using Xunit;

namespace JetNative.Tests.Tokenization;

public class ByteLevelMapTests
{
    [Theory]
    [InlineData(0x20, '\u0120')] // space -> Ġ
    [InlineData(0x0A, '\u010A')] // newline -> Ċ
    [InlineData(0x00, '\u0100')] // first non-printable byte
    [InlineData(0x21, '!')]      // printable ASCII maps to itself
    [InlineData(0xAD, '\u0143')] // soft hyphen, the last of the 68 remapped bytes
    [InlineData(0xE9, '\u00E9')] // printable Latin-1 maps to itself
    public void ToChar_FollowsGpt2Table(int b, char expected)
    {
        Assert.Equal(expected, ByteLevelMap.ToChar((byte)b));
    }

    [Fact]
    public void ToBytes_InvertsToCharForAllBytes()
    {
        var all = Enumerable.Range(0, 256).Select(b => (byte)b).ToArray();
        string token = new(all.Select(ByteLevelMap.ToChar).ToArray());
        Assert.Equal(all, ByteLevelMap.ToBytes(token));
        Assert.Equal(256, token.Distinct().Count());
    }

    [Fact]
    public void ToBytes_CharOutsideTableIsItsUtf8()
    {
        Assert.Equal(new byte[] { 0x41, 0xE4, 0xB8, 0xAD }, ByteLevelMap.ToBytes("A中"));
    }
}
