using Xunit;

namespace JetNative.Tests.Cli;

/// <summary>Bad usage: one <c>error:</c> line and exit code 2 (1 for runtime failures), never a stack trace. No model needed.</summary>
public sealed class CliUsageTests
{
    [Fact]
    public async Task NoCommandIsUsageError()
    {
        var r = await CliRunner.RunAsync();
        r.AssertError(2, "command");
    }

    [Fact]
    public async Task HelpListsEveryCommand()
    {
        var r = await CliRunner.RunAsync("--help");
        Assert.Equal(0, r.ExitCode);
        foreach (string command in new[] { "generate", "chat", "info", "eval", "bench" })
            Assert.Contains(command, r.Out);
    }

    [Fact]
    public async Task GenerateHelpShowsLlamaCppFlags()
    {
        var r = await CliRunner.RunAsync("generate", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (string flag in new[] { "-m", "-p", "-f", "-n", "-t", "-s", "-c", "--temp", "--top-k", "--top-p", "--min-p", "--repeat-penalty", "--device" })
            Assert.Contains(flag, r.Out);
    }

    [Fact]
    public async Task TheContextHelpSaysWhatTheCodeDoes()
    {
        foreach (string command in new[] { "generate", "chat" })
        {
            var r = await CliRunner.RunAsync(command, "--help");
            Assert.Matches(@"-c, --ctx-size <ctx-size>\s+Context size in tokens \(0 = the model's maximum, at most 4096\)", r.Out);
        }
        JetModel demo = Support.TestModels.Get("demo");
        Assert.Equal(Math.Min(demo.Info.MaxPositionEmbeddings, 4096), JetNative.Cli.ModelLoader.Context(demo, 0));
        Assert.Equal(100, JetNative.Cli.ModelLoader.Context(demo, 100));
        Assert.Contains("0 = the longest input sequence", (await CliRunner.RunAsync("eval", "--help")).Out);
    }

    [Theory]
    [InlineData(new[] { "generate", "hi", "--bogus" }, "--bogus")]
    [InlineData(new[] { "generate", "hi", "-n", "abc" }, "abc")]
    [InlineData(new[] { "generate", "hi", "--temp", "-1" }, "--temp")]
    [InlineData(new[] { "generate", "hi", "--top-p", "1.5" }, "--top-p")]
    [InlineData(new[] { "generate", "hi", "--min-p", "-0.1" }, "--min-p")]
    [InlineData(new[] { "generate", "hi", "--top-k", "-3" }, "--top-k")]
    [InlineData(new[] { "generate", "hi", "--repeat-penalty", "0" }, "--repeat-penalty")]
    [InlineData(new[] { "generate", "hi", "--device", "tpu" }, "--device")]
    [InlineData(new[] { "generate", "hi", "--device", "cuda:x" }, "--device")]
    [InlineData(new[] { "generate", "hi", "-t", "-2" }, "--threads")]
    [InlineData(new[] { "generate", "hi", "-c", "-5" }, "--ctx-size")]
    [InlineData(new[] { "generate", "hi", "-n", "0" }, "--n-predict")]
    [InlineData(new[] { "generate", "hi", "-s", "-7" }, "--seed")]
    [InlineData(new[] { "generate" }, "no prompt")]
    [InlineData(new[] { "generate", "hi", "-p", "there" }, "only once")]
    [InlineData(new[] { "chat", "-n", "-4" }, "--n-predict")]
    [InlineData(new[] { "eval" }, "-f")]
    [InlineData(new[] { "eval", "--input-ids", "x.json" }, "--logits-out")]
    [InlineData(new[] { "eval", "-f", "a.txt", "--window", "1" }, "--window")]
    [InlineData(new[] { "bench", "-r", "0" }, "--repetitions")]
    [InlineData(new[] { "bench", "-b", "0" }, "--batch")]
    [InlineData(new[] { "bench", "-p", "0", "-n", "0" }, "nothing to measure")]
    [InlineData(new[] { "serve", "--port", "70000" }, "--port")]
    [InlineData(new[] { "serve", "--max-seqs", "0" }, "--max-seqs")]
    [InlineData(new[] { "serve", "--devices", "0,1" }, "--devices")]
    [InlineData(new[] { "serve", "--engines", "0" }, "--engines")]
    [InlineData(new[] { "serve", "--timeout", "-1" }, "--timeout")]
    [InlineData(new[] { "serve", "--host", "example.com" }, "--host")]
    [InlineData(new[] { "serve", "--device", "cuda:0", "--engines", "2" }, "--engines")]
    public async Task BadOptionValueIsUsageError(string[] args, string messagePart)
    {
        var r = await CliRunner.RunAsync(args);
        r.AssertError(2, messagePart);
        Assert.Equal("", r.Out);
    }

    [Fact]
    public async Task MissingModelFolderIsRuntimeError()
    {
        string missing = Path.Combine(Path.GetTempPath(), "jetnative-no-such-model-" + Guid.NewGuid().ToString("N"));
        var r = await CliRunner.RunAsync("generate", "hi", "-m", missing);
        r.AssertError(1, "model folder not found");
        Assert.Contains(missing, r.Error);
    }

    [Fact]
    public async Task ModelThatIsAFileIsRuntimeError()
    {
        string file = Path.GetTempFileName();
        try
        {
            var r = await CliRunner.RunAsync("info", "-m", file);
            r.AssertError(1, "is a file");
        }
        finally { File.Delete(file); }
    }

    [Fact]
    public async Task MissingPromptFileIsRuntimeError()
    {
        var r = await CliRunner.RunAsync("generate", "-f", "/no/such/prompt.txt");
        r.AssertError(1, "prompt file not found");
    }

    [Fact]
    public async Task RepoIdNotInCacheIsRuntimeError()
    {
        var r = await CliRunner.RunAsync("info", "-m", "no-such-org-jetnative/no-such-model");
        r.AssertError(1, "no-such-org-jetnative/no-such-model");
    }
}
