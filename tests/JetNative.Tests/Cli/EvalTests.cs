using JetNative.Cli;
using JetNative.Cli.Commands;
using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Cli;

public sealed class EvalTests
{
    [Fact]
    public void NegativeLogLikelihoodMatchesLogSoftmax()
    {
        float[] logits = [1f, 2f, 3f, 1000f, -5f];
        // log-sum-exp shifted by the largest logit, minus the target's logit
        double expected = 1000 + Math.Log(1 + Math.Exp(1 - 1000) + Math.Exp(2 - 1000) + Math.Exp(3 - 1000) + Math.Exp(-1005)) - 2;
        Assert.Equal(expected, EvalCommand.NegativeLogLikelihood(logits, 1), 9);
        Assert.Equal(0.0, EvalCommand.NegativeLogLikelihood(logits, 3), 9);
        float[] uniform = [0.5f, 0.5f, 0.5f, 0.5f];
        Assert.Equal(Math.Log(4), EvalCommand.NegativeLogLikelihood(uniform, 2), 12);
    }

    [Theory]
    [InlineData("[[1, 2, 3], [4]]", null)]
    [InlineData("not json", "expected a JSON list")]
    [InlineData("[]", "no sequence")]
    [InlineData("[[1], []]", "sequence 1 is empty")]
    [InlineData("[[1, 99]]", "token id 99")]
    [InlineData("[[-1]]", "token id -1")]
    public void ReadInputIdsChecksEveryId(string json, string? error)
    {
        using var temp = new TempFolder();
        string path = temp.FilePath("ids.json");
        File.WriteAllText(path, json);
        if (error is null)
        {
            int[][] ids = EvalCommand.ReadInputIds(path, 10);
            Assert.Equal([[1, 2, 3], [4]], ids);
            return;
        }
        var e = Assert.Throws<InvalidDataException>(() => EvalCommand.ReadInputIds(path, 10));
        Assert.Contains(error, e.Message);
    }

    [Fact]
    public void EvalProtocolReadsTheWindow()
    {
        using var temp = new TempFolder();
        Assert.Null(EvalProtocol.For(temp.Path).Window);
        File.WriteAllText(temp.FilePath("eval.json"), """{"window": 128}""");
        Assert.Equal(128, EvalProtocol.For(temp.Path).Window);
        File.WriteAllText(temp.FilePath("eval.json"), "{oops");
        Assert.Throws<InvalidDataException>(() => EvalProtocol.For(temp.Path));
    }
}
