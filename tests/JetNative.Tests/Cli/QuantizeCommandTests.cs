using JetNative.Tests.Support;
using Xunit;

namespace JetNative.Tests.Cli;

/// <summary>
/// <c>jetnative quantize</c> end to end on the committed tiny-jet-b: the written checkpoint loads,
/// <c>info</c> and <see cref="JetModelInfo"/> report its weight format, its logits stay near the
/// original's, and bad input gives one error line and the right exit code.
/// </summary>
public sealed class QuantizeCommandTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("int8", 0, JetWeightDtype.Int8)]
    [InlineData("fp8", 16, JetWeightDtype.Fp8E4m3)]
    public async Task QuantizeWritesACheckpointThatLoadsAndStaysClose(string type, int group, JetWeightDtype expected)
    {
        string source = TestModels.RequireFolder("tiny-jet-b");
        using var temp = new TempFolder();
        string folder = Path.Combine(temp.Path, "q");
        var r = await CliRunner.RunAsync(["quantize", "-m", source, "-o", folder, "--type", type, "--group-size", group.ToString(System.Globalization.CultureInfo.InvariantCulture)], ct: Ct);
        r.AssertOk();
        Assert.Equal(folder, r.Out.Trim());
        Assert.Contains("of safetensors", r.Error);

        var info = await CliRunner.RunAsync(["info", "-m", folder, "-t", "2"], ct: Ct);
        info.AssertOk();
        Assert.Matches(type == "int8" ? @"weight format:\s+int8, a scale per output channel\n" : @"weight format:\s+fp8 e4m3, a scale per 16 inputs\n", info.Out);

        using JetModel original = JetModel.Load(source, new JetModelOptions { Threads = 2 });
        using JetModel quantized = JetModel.Load(folder, new JetModelOptions { Threads = 2 });
        Assert.Contains(original.Info.WeightDtype, new[] { JetWeightDtype.F32, JetWeightDtype.Bf16, JetWeightDtype.F16 });
        Assert.Equal(0, original.Info.WeightGroupSize);
        Assert.Equal(expected, quantized.Info.WeightDtype);
        Assert.Equal(group, quantized.Info.WeightGroupSize);
        Assert.True(quantized.Info.WeightBytes < original.Info.WeightBytes, $"{quantized.Info.WeightBytes} >= {original.Info.WeightBytes}");

        int[] tokens = [1, 5, 9, 13, 2, 7, 30, 4];
        float[] a = Logits(original, tokens), b = Logits(quantized, tokens);
        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < a.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs(a[i] - b[i]));
            maxRef = Math.Max(maxRef, Math.Abs(a[i]));
        }
        Assert.True(maxDiff > 0, "the quantized weights must differ");
        Assert.True(maxDiff < 0.2 * maxRef, $"logits differ by {maxDiff} (max |logit| {maxRef})");
    }

    private static float[] Logits(JetModel model, int[] tokens)
    {
        using JetSession s = model.CreateSession(new JetSessionOptions { Context = 64 });
        return s.Prefill(tokens).ToArray();
    }

    [Fact]
    public async Task QuantizeRefusesBadInput()
    {
        string source = TestModels.RequireFolder("tiny-jet-b");
        using var temp = new TempFolder();
        string folder = Path.Combine(temp.Path, "q");
        (await CliRunner.RunAsync(["quantize", "-m", source, "-o", folder, "--type", "int4"], ct: Ct)).AssertError(2, "--type must be int8 or fp8");
        (await CliRunner.RunAsync(["quantize", "-m", source, "-o", folder, "--type", "int8", "--group-size", "-4"], ct: Ct)).AssertError(2, "--group-size");
        (await CliRunner.RunAsync(["quantize", "-m", source, "--type", "int8"], ct: Ct)).AssertError(2, "--output");
        (await CliRunner.RunAsync(["quantize", "-m", Path.Combine(temp.Path, "missing"), "-o", folder, "--type", "int8"], ct: Ct)).AssertError(1, "not found");
        (await CliRunner.RunAsync(["quantize", "-m", source, "-o", source, "--type", "int8"], ct: Ct)).AssertError(1, "must differ");
        var ok = await CliRunner.RunAsync(["quantize", "-m", source, "-o", folder, "--type", "int8"], ct: Ct);
        ok.AssertOk();
        (await CliRunner.RunAsync(["quantize", "-m", folder, "-o", Path.Combine(temp.Path, "again"), "--type", "fp8"], ct: Ct)).AssertError(1, "already quantized");
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => JetModel.QuantizeCheckpoint(source, folder, JetWeightDtype.Bf16));
        Assert.Equal("type", ex.ParamName);
    }
}
